import { createHash } from 'node:crypto';
import { DEV_APP_CLIENT_ID, mintDevToken } from '../shared/auth/dev-issuer';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, PROFILE, type Subject } from './kit/scenario';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

interface Op {
  id: string;
  name: string;
  type: 'query' | 'mutation';
  body: string;
}
const op = (name: string, type: Op['type'], body: string): Op => ({ id: sha256(body), name, type, body });
const manifest = (...operations: Op[]) => ({ format: 'apollo-persisted-query-manifest', version: 1, operations });

const USER_REF = op('UserRef', 'query', 'query UserRef($ref: ID!) { user(ref: $ref) { ref status } }');
const ME = op('MyStatus', 'query', 'query MyStatus { me { status } }');
const AD_HOC_EMAIL = 'query AdHocEmail($ref: ID!) { user(ref: $ref) { ref email } }';
const AD_HOC_WEBHOOK = 'mutation AdHocHook($url: String!) { createWebhookEndpoint(input: { url: $url, events: [CONSENT_GRANTED] }) { secret } }';

const SETTINGS = `query { tenantSettings { safelistMode allowedOrigins updatedAt unsafelistedRequestCount
  persistedOperations { id name type registeredAt } unsafelistedOperations { id name count firstSeenAt lastSeenAt } } }`;
const SET_MODE = 'mutation($mode: SafelistMode!) { setSafelistMode(mode: $mode) { safelistMode } }';
const REGISTER = `mutation($manifest: PersistedOperationManifestInput!, $replace: Boolean!) {
  registerPersistedOperations(manifest: $manifest, replace: $replace) { added unchanged removed total } }`;
const SET_ORIGINS = 'mutation($origins: [String!]!) { setAllowedOrigins(origins: $origins) { allowedOrigins } }';
const SET_STOREFRONTS = 'mutation($c: [String!]!) { setStorefrontClients(clientIds: $c) { storefrontClients } }';

describe('persisted operations and safelisting', () => {
  let stack: TestStack;
  let shop: string;
  let other: string;
  let alice: Subject;
  let admin: string;
  let backend: string;
  let otherAdmin: string;

  /** A raw POST to the gateway's /graphql (the kit's gql always sends `query`). */
  const post = async (body: Record<string, unknown>, token?: string) => {
    const response = await fetch(stack.running.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    return { status: response.status, data: json.data, errors: json.errors, headers: response.headers };
  };
  const byHash = (operation: Op, variables: Record<string, unknown>, token?: string) =>
    post({ variables, extensions: { persistedQuery: { version: 1, sha256Hash: operation.id } } }, token);
  /** A staff user's organization token (sub = the user, not the client). */
  const staffToken = (scopes: string[]) => mintDevToken(stack.key, { sub: 'staff-1', clientId: DEV_APP_CLIENT_ID, organizationId: shop, scopes });
  const setMode = async (token: string, mode: string) => expectNoErrors(await stack.gql(SET_MODE, { mode }, { token }));
  const auditActions = async (requestId: string) =>
    (await stack.sql<{ action: string }>(`SELECT action FROM "${stack.schemas.audit}".audit_event WHERE request_id = $1`, [requestId])).map((r) => r.action);
  const webhookRows = async (tenantId: string) =>
    (await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.identity}".webhook_endpoint WHERE tenant_id = $1`, [tenantId]))[0].n;

  beforeAll(async () => {
    stack = await startTestStack({ env: { TENANT_POLICY_CACHE_MS: '0', SAFELIST_REPORT_FLUSH_MS: '100' } });
    shop = await createTenant(stack, 'Safelist Shop');
    other = await createTenant(stack, 'Other Shop');
    alice = await createSubject(stack, 'alice-safelist', PROFILE, [shop, other]);
    admin = await stack.tokens.tenant(shop, ['tenant:admin']);
    backend = await stack.tokens.tenant(shop, ['pii:contact:read']);
    otherAdmin = await stack.tokens.tenant(other, ['tenant:admin']);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('a new tenant has the defaults: mode OFF, no operations, no origins, nothing reported', async () => {
    const response = await stack.gql(SETTINGS, {}, { token: admin });
    expectNoErrors(response);
    expect(response.data!.tenantSettings).toEqual({
      safelistMode: 'OFF',
      allowedOrigins: [],
      updatedAt: null,
      unsafelistedRequestCount: 0,
      persistedOperations: [],
      unsafelistedOperations: [],
    });
  });

  test('only the tenant admin of the calling tenant reads and changes its settings: subject, platform admin and a non-admin tenant token are refused', async () => {
    const principals = [
      ['subject', alice.token, 'FORBIDDEN'],
      ['platform admin', await stack.tokens.admin(), 'FORBIDDEN'],
      ['backend without tenant:admin', backend, 'SCOPE_REQUIRED'],
      ['member without tenant:admin', await staffToken(['pii:contact:read']), 'SCOPE_REQUIRED'],
      ['anonymous', undefined, 'UNAUTHENTICATED'],
    ] as const;
    for (const [who, token, code] of principals) {
      const calls = [
        await stack.gql(SETTINGS, {}, { token }),
        await stack.gql(SET_MODE, { mode: 'ENFORCE' }, { token }),
        await stack.gql(REGISTER, { manifest: manifest(USER_REF), replace: false }, { token }),
        await stack.gql(SET_ORIGINS, { origins: ['https://evil.example'] }, { token }),
        await stack.gql(SET_STOREFRONTS, { c: ['evil-app'] }, { token }),
      ];
      for (const call of calls) expect([who, codes(call)]).toEqual([who, [code]]);
    }
    const settings = await stack.gql(SETTINGS, {}, { token: admin });
    expect(settings.data!.tenantSettings).toMatchObject({ safelistMode: 'OFF', allowedOrigins: [], persistedOperations: [] });
    const storefronts = await stack.gql<{ tenantSettings: { storefrontClients: string[] } }>('{ tenantSettings { storefrontClients } }', {}, { token: admin });
    expect(storefronts.data!.tenantSettings.storefrontClients).toEqual([]);
  });

  test('registration recomputes each id from its body and parses it; mismatches, bad documents and bad manifests are refused with the field, and nothing is stored', async () => {
    const bad: [unknown, string][] = [
      [manifest({ ...USER_REF, id: sha256(`${USER_REF.body} `) }), 'manifest.operations.0.id'],
      [manifest(USER_REF, { ...ME, id: ME.id.toUpperCase() }), 'manifest.operations.1.id'],
      [manifest(op('Broken', 'query', 'query Broken { me { ')), 'manifest.operations.0.body'],
      [manifest(op('Two', 'query', 'query Two { me { status } } query Three { me { status } }')), 'manifest.operations.0.body'],
      [manifest({ ...op('MyStatus', 'mutation', ME.body) }), 'manifest.operations.0.type'],
      [manifest({ ...op('Other', 'query', ME.body) }), 'manifest.operations.0.name'],
      [manifest(USER_REF, USER_REF), 'manifest.operations.1.id'],
      [manifest(op('Big', 'query', `query Big { me { status } }${' '.repeat(17 * 1024)}`)), 'manifest.operations.0.body'],
      [{ ...manifest(USER_REF), format: 'relay' }, 'manifest.format'],
      [{ ...manifest(USER_REF), version: 2 }, 'manifest.version'],
      [manifest(), 'manifest.operations'],
    ];
    for (const [given, field] of bad) {
      const response = await stack.gql(REGISTER, { manifest: given, replace: false }, { token: admin });
      expect([field, response.errors?.[0]?.extensions]).toMatchObject([field, { code: 'BAD_USER_INPUT', field }]);
    }
    const [{ n }] = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.identity}".persisted_operation`);
    expect(n).toBe(0);
  });

  test('a manifest adds operations or replaces the set; counts say what changed; each registration is audited', async () => {
    const first = await stack.gql(REGISTER, { manifest: manifest(USER_REF), replace: false }, { token: admin });
    expectNoErrors(first);
    expect(first.data!.registerPersistedOperations).toEqual({ added: 1, unchanged: 0, removed: 0, total: 1 });
    const again = await stack.gql(REGISTER, { manifest: manifest(USER_REF, ME), replace: false }, { token: admin });
    expect(again.data!.registerPersistedOperations).toEqual({ added: 1, unchanged: 1, removed: 0, total: 2 });
    const extra = op('Spare', 'query', 'query Spare { me { status createdAt } }');
    const replaced = await stack.gql(REGISTER, { manifest: manifest(USER_REF, extra), replace: true }, { token: admin });
    expect(replaced.data!.registerPersistedOperations).toEqual({ added: 1, unchanged: 1, removed: 1, total: 2 });
    const restored = await stack.gql(REGISTER, { manifest: manifest(USER_REF, ME), replace: true }, { token: admin });
    expect(restored.data!.registerPersistedOperations).toEqual({ added: 1, unchanged: 1, removed: 1, total: 2 });
    const settings = await stack.gql(SETTINGS, {}, { token: admin });
    expect(settings.data!.tenantSettings.persistedOperations.map((o: { id: string; name: string; type: string }) => [o.name, o.id, o.type])).toEqual([
      ['MyStatus', ME.id, 'query'],
      ['UserRef', USER_REF.id, 'query'],
    ]);
    const events = await stack.sql<{ field: string; actor_type: string }>(
      `SELECT field, actor_type FROM "${stack.schemas.audit}".audit_event WHERE action = 'OPERATION_MANIFEST_REGISTER' AND tenant_id = $1 ORDER BY seq`,
      [shop],
    );
    expect(events.map((e) => e.field)).toEqual(['PersistedOperations.ADD.1', 'PersistedOperations.ADD.2', 'PersistedOperations.REPLACE.2', 'PersistedOperations.REPLACE.2']);
    // The other tenant registered nothing and sees nothing.
    const foreign = await stack.gql(SETTINGS, {}, { token: otherAdmin });
    expect(foreign.data!.tenantSettings.persistedOperations).toEqual([]);
  });

  test('a tenant holds at most 1000 operations and a call at most 200: more is refused and nothing of that call is stored', async () => {
    const many = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => op(`Bulk${from + i}`, 'query', `query Bulk${from + i} { me { status } }`));
    expect(codes(await stack.gql(REGISTER, { manifest: manifest(...many(0, 201)), replace: false }, { token: otherAdmin }))).toEqual(['BAD_USER_INPUT']);
    for (let part = 0; part < 5; part += 1) {
      const added = await stack.gql(REGISTER, { manifest: manifest(...many(part * 200, 200)), replace: false }, { token: otherAdmin });
      expect(added.data!.registerPersistedOperations).toMatchObject({ added: 200, total: (part + 1) * 200 });
    }
    const over = await stack.gql(REGISTER, { manifest: manifest(...many(1000, 1)), replace: false }, { token: otherAdmin });
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'manifest.operations' });
    const cleared = await stack.gql(REGISTER, { manifest: manifest(), replace: true }, { token: otherAdmin });
    expect(cleared.data!.registerPersistedOperations).toEqual({ added: 0, unchanged: 0, removed: 1000, total: 0 });
  });

  test('hash-only requests are answered from registered operations; an unknown hash gets PERSISTED_QUERY_NOT_FOUND; a query that does not hash to its hash is refused', async () => {
    const hit = await byHash(USER_REF, { ref: alice.refs[shop] }, backend);
    expect(hit.errors).toBeUndefined();
    expect(hit.data).toEqual({ user: { ref: alice.refs[shop], status: 'ACTIVE' } });
    // Any caller may use a registered document by its hash (it is the same text whoever registered it).
    const subject = await byHash(ME, {}, alice.token);
    expect(subject.data).toEqual({ me: { status: 'ACTIVE' } });

    const unknown = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256('query Nope { me { status } }') } } }, alice.token);
    expect(unknown.status).toBe(200);
    expect(codes(unknown)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    // The client's fallback: the same request with the full text runs (mode OFF).
    const fallback = await post({ query: 'query Nope { me { status } }', extensions: { persistedQuery: { version: 1, sha256Hash: sha256('query Nope { me { status } }') } } }, alice.token);
    expect(fallback.data).toEqual({ me: { status: 'ACTIVE' } });

    const wrong = await post({ query: `${ME.body} `, extensions: { persistedQuery: { version: 1, sha256Hash: ME.id } } }, alice.token);
    expect(wrong.status).toBe(400);
    expect(codes(wrong)).toEqual(['BAD_REQUEST']);
    for (const persistedQuery of [{ version: 2, sha256Hash: ME.id }, { version: 1, sha256Hash: 'abc' }, { version: 1 }]) {
      const malformed = await post({ extensions: { persistedQuery } }, alice.token);
      expect(codes(malformed)).toEqual(['BAD_REQUEST']);
    }

    const url = new URL(stack.running.gateway.graphqlUrl);
    url.searchParams.set('extensions', JSON.stringify({ persistedQuery: { version: 1, sha256Hash: ME.id } }));
    const viaGet = await fetch(url, { headers: { authorization: `Bearer ${alice.token}`, 'apollo-require-preflight': 'true' } });
    expect(await viaGet.json()).toEqual({ data: { me: { status: 'ACTIVE' } } });
  });

  test('ENFORCE: an ad-hoc document of a tenant token is refused with OPERATION_NOT_SAFELISTED and nothing runs; registered operations run; subject and platform-admin traffic is unaffected', async () => {
    await setMode(admin, 'ENFORCE');

    const email = await stack.gql(AD_HOC_EMAIL, { ref: alice.refs[shop] }, { token: backend, purpose: 'support' });
    expect(email.status).toBe(403);
    expect(codes(email)).toEqual(['OPERATION_NOT_SAFELISTED']);
    expect(email.data).toBeUndefined();
    // Had it run, the pii subgraph would have audited its decision on `email` (allow or deny).
    expect(await auditActions(email.headers.get('x-request-id')!)).toEqual([]);

    const before = await webhookRows(shop);
    const hook = await stack.gql(AD_HOC_WEBHOOK, { url: 'http://127.0.0.1:9/hooks' }, { token: admin });
    expect(codes(hook)).toEqual(['OPERATION_NOT_SAFELISTED']);
    expect(await webhookRows(shop)).toBe(before);
    expect(await auditActions(hook.headers.get('x-request-id')!)).toEqual([]);

    // The registered document runs, by hash or with its exact text (a byte more and it is another document).
    expect((await byHash(USER_REF, { ref: alice.refs[shop] }, backend)).data).toEqual({ user: { ref: alice.refs[shop], status: 'ACTIVE' } });
    expect((await stack.gql(USER_REF.body, { ref: alice.refs[shop] }, { token: backend })).data).toEqual({ user: { ref: alice.refs[shop], status: 'ACTIVE' } });
    expect(codes(await stack.gql(`${USER_REF.body}\n`, { ref: alice.refs[shop] }, { token: backend }))).toEqual(['OPERATION_NOT_SAFELISTED']);
    // A staff member's token carries the tenant claim too.
    const member = await stack.gql(AD_HOC_EMAIL, { ref: alice.refs[shop] }, { token: await staffToken(['pii:contact:read']), purpose: 'support' });
    expect(codes(member)).toEqual(['OPERATION_NOT_SAFELISTED']);

    const subject = await stack.gql('query { me { status } }', {}, { token: alice.token });
    expect(subject.data).toEqual({ me: { status: 'ACTIVE' } });
    const platform = await stack.gql('query { tenants { id } }', {}, { token: await stack.tokens.admin() });
    expectNoErrors(platform);
    // Another tenant's mode is its own.
    expectNoErrors(await stack.gql('query { users { edges { node { ref } } } }', {}, { token: await stack.tokens.tenant(other, []) }));

    // The admin can always reach the settings, so ENFORCE can be left again.
    const settings = await stack.gql('query { tenantSettings { safelistMode } }', {}, { token: admin });
    expect(settings.data).toEqual({ tenantSettings: { safelistMode: 'ENFORCE' } });
    const storefronts = await stack.gql(SET_STOREFRONTS, { c: ['enforced-shop-web'] }, { token: admin });
    expect(storefronts.data).toEqual({ setStorefrontClients: { storefrontClients: ['enforced-shop-web'] } });
  });

  test("another tenant's registration does not safelist a document for this tenant", async () => {
    const foreignOnly = op('ForeignRef', 'query', 'query ForeignRef($ref: ID!) { user(ref: $ref) { status } }');
    expectNoErrors(await stack.gql(REGISTER, { manifest: manifest(foreignOnly), replace: false }, { token: otherAdmin }));
    const mine = await stack.gql(foreignOnly.body, { ref: alice.refs[shop] }, { token: backend });
    expect(codes(mine)).toEqual(['OPERATION_NOT_SAFELISTED']);
    const byItsHash = await byHash(foreignOnly, { ref: alice.refs[shop] }, backend);
    expect(codes(byItsHash)).toEqual(['OPERATION_NOT_SAFELISTED']);
    // The other tenant (mode OFF) runs it.
    const theirs = await byHash(foreignOnly, { ref: alice.refs[other] }, await stack.tokens.tenant(other, []));
    expect(theirs.data).toEqual({ user: { status: 'ACTIVE' } });
  });

  test('a mode change takes effect on the next request', async () => {
    expect(codes(await stack.gql(AD_HOC_EMAIL, { ref: alice.refs[shop] }, { token: backend, purpose: 'support' }))).toEqual(['OPERATION_NOT_SAFELISTED']);
    await setMode(admin, 'OFF');
    const email = await stack.gql(AD_HOC_EMAIL, { ref: alice.refs[shop] }, { token: backend, purpose: 'support' });
    expect(codes(email)).not.toContain('OPERATION_NOT_SAFELISTED');
    expect(email.data?.user?.ref).toBe(alice.refs[shop]);
    await setMode(admin, 'ENFORCE');
    expect(codes(await stack.gql(AD_HOC_EMAIL, { ref: alice.refs[shop] }, { token: backend, purpose: 'support' }))).toEqual(['OPERATION_NOT_SAFELISTED']);
    const events = await stack.sql<{ field: string }>(
      `SELECT field FROM "${stack.schemas.audit}".audit_event WHERE action = 'TENANT_SETTINGS_SET' AND tenant_id = $1 AND field LIKE 'SafelistMode.%' ORDER BY seq`,
      [shop],
    );
    expect(events.map((e) => e.field)).toEqual(['SafelistMode.ENFORCE', 'SafelistMode.OFF', 'SafelistMode.ENFORCE']);
    await setMode(admin, 'OFF');
  });

  test('REPORT: ad-hoc documents run, and are counted by hash and name where the tenant admin reads them; registered ones are not counted', async () => {
    await setMode(admin, 'REPORT');
    const query = 'query ReportedRead($ref: ID!) { user(ref: $ref) { ref status createdAt } }';
    for (let i = 0; i < 3; i += 1) {
      const ran = await stack.gql(query, { ref: alice.refs[shop] }, { token: backend });
      expectNoErrors(ran);
      expect(ran.data!.user.ref).toBe(alice.refs[shop]);
    }
    expectNoErrors(await byHash(USER_REF, { ref: alice.refs[shop] }, backend));

    let settings: any;
    for (let attempt = 0; attempt < 100; attempt += 1) {
      settings = (await stack.gql(SETTINGS, {}, { token: admin })).data!.tenantSettings;
      if (settings.unsafelistedRequestCount >= 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(settings.unsafelistedRequestCount).toBe(3);
    expect(settings.unsafelistedOperations).toEqual([
      { id: sha256(query), name: 'ReportedRead', count: 3, firstSeenAt: expect.any(String), lastSeenAt: expect.any(String) },
    ]);
    // The other tenant's settings show none of it.
    const foreign = await stack.gql(SETTINGS, {}, { token: otherAdmin });
    expect(foreign.data!.tenantSettings).toMatchObject({ unsafelistedRequestCount: 0, unsafelistedOperations: [] });

    // Registering the document takes it off the list.
    expectNoErrors(await stack.gql(REGISTER, { manifest: manifest(op('ReportedRead', 'query', query)), replace: false }, { token: admin }));
    const after = await stack.gql(SETTINGS, {}, { token: admin });
    expect(after.data!.tenantSettings).toMatchObject({ unsafelistedRequestCount: 3, unsafelistedOperations: [] });
    await setMode(admin, 'OFF');
  });
});

describe('safelisting when identity is unreachable', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ env: { TENANT_POLICY_CACHE_MS: '0' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('fails closed: an ENFORCE tenant read before keeps being enforced, a tenant whose policy was never read is refused DEPENDENCY_UNAVAILABLE; subjects are not judged', async () => {
    const enforcing = await createTenant(stack, 'Enforcing While Down');
    const unread = await createTenant(stack, 'Never Read');
    const admin = await stack.tokens.tenant(enforcing, ['tenant:admin']);
    expectNoErrors(await stack.gql(SET_MODE, { mode: 'ENFORCE' }, { token: admin }));
    const backend = await stack.tokens.tenant(enforcing, []);
    expect(codes(await stack.gql('query { users { edges { node { ref } } } }', {}, { token: backend }))).toEqual(['OPERATION_NOT_SAFELISTED']);

    await stack.running.subgraphs.identity.stop();

    const adHoc = await stack.gql('query { users { edges { node { ref } } } }', {}, { token: backend });
    expect(adHoc.status).toBe(403);
    expect(codes(adHoc)).toEqual(['OPERATION_NOT_SAFELISTED']);
    const never = await stack.gql('query { users { edges { node { ref } } } }', {}, { token: await stack.tokens.tenant(unread, []) });
    expect(never.status).toBe(503);
    expect(codes(never)).toEqual(['DEPENDENCY_UNAVAILABLE']);
    // A subject's request is not judged by the safelist (it fails later, at the identity subgraph itself).
    const subject = await stack.gql('query { me { status } }', {}, { token: await stack.tokens.subject('down-alice') });
    expect(codes(subject)).not.toContain('OPERATION_NOT_SAFELISTED');
  });
});
