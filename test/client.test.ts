import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import {
  AuditEventsDocument,
  BlockUserDocument,
  createPrivgraphClient,
  errorAt,
  PrivgraphError,
  PublishPolicyVersionDocument,
  RegisterPersistedOperationsDocument,
  SetSafelistModeDocument,
  SetStorefrontClientsDocument,
  TenantSettingsDocument,
  TypedDocumentString,
  UnblockUserDocument,
  UserContactDocument,
  UserEmailDocument,
  UsersPageDocument,
  verifyPassport,
  type ErrorCode,
  type PassportErrorCode,
} from '../clients/typescript/src/index.js';
import manifest from '../clients/typescript/persisted-operations.json';
import { devSigningKeyPath, loadSigningKey, type SigningKey } from '../shared/signing-key';
import { createSubject, createTenant, grantConsent, PROFILE, type Subject } from './kit/scenario';
import { startTestStack, type TestStack } from './kit/stack';

/** The client package against the running stack, as a shop's CMS backend uses it. */

let stack: TestStack;
let shop: string;
let otherShop: string;
let alice: Subject;
let consentId: string;
let receiptJws: string;
let gatewayUrl: string;

beforeAll(async () => {
  // The gateway reads a tenant's safelist mode on every request (no cache), so a change applies at once.
  stack = await startTestStack({ env: { TENANT_POLICY_CACHE_MS: '0' } });
  gatewayUrl = stack.running.gateway.graphqlUrl;
  shop = await createTenant(stack, 'Client Shop');
  otherShop = await createTenant(stack, 'Other Shop');
  alice = await createSubject(stack, 'client-alice', PROFILE, [shop, otherShop]);
  consentId = await grantConsent(stack, alice, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT'] });
  const mine = await stack.gql<{ me: { consents: { id: string; receipts: { jws: string }[] }[] } }>('{ me { consents { id receipts { jws } } } }', {}, { token: alice.token });
  receiptJws = mine.data!.me.consents.find((c) => c.id === consentId)!.receipts[0].jws;
});

afterAll(async () => {
  await stack?.stop();
});

const shopClient = async (scopes: string[], tenantId = shop) => createPrivgraphClient({ url: gatewayUrl, token: await stack.tokens.tenant(tenantId, scopes) });

describe('typed requests with a purpose', () => {
  test('a contact-only read with the contact scope releases email and phone, with no errors and only their audit events', async () => {
    const client = await shopClient(['pii:contact:read']);
    const result = await client.request(UserContactDocument, { ref: alice.refs[shop] }, { purpose: 'order_fulfillment' });
    expect(result.errors).toEqual([]);
    // Typed from the document: user is nullable, email a nullable string.
    const email: string | null | undefined = result.data.user?.email;
    expect(email).toBe(PROFILE.email);
    expect(result.data.user).toEqual({ ref: alice.refs[shop], status: 'ACTIVE', email: PROFILE.email, phone: '+49301234567' });
    expect(result.requestId).toEqual(expect.any(String));

    const audit = await (await shopClient([])).request(AuditEventsDocument, { first: 50, filter: { requestId: result.requestId } });
    expect(audit.errors).toEqual([]);
    const events = audit.data.auditEvents.edges.map((e) => e.node);
    expect(events.map((e) => [e.field, e.decision, e.reason, e.purpose]).sort()).toEqual([
      ['User.email', 'ALLOW', 'CONSENT', 'order_fulfillment'],
      ['User.phone', 'ALLOW', 'CONSENT', 'order_fulfillment'],
    ]);
    expect(events.every((e) => e.consentId === consentId && e.subjectRef === alice.refs[shop])).toBe(true);
  });

  test('the email-only read asks for (and audits) the email alone', async () => {
    const client = await shopClient(['pii:contact:read']);
    const result = await client.request(UserEmailDocument, { ref: alice.refs[shop] }, { purpose: 'order_fulfillment' });
    expect(result).toEqual({ data: { user: { ref: alice.refs[shop], status: 'ACTIVE', email: PROFILE.email } }, errors: [], requestId: expect.any(String) });
    const audit = await client.request(AuditEventsDocument, { filter: { requestId: result.requestId } });
    expect(audit.data.auditEvents.edges.map((e) => e.node.field)).toEqual(['User.email']);
  });

  test('one field refused while another is released: data and a per-field error with its code and path', async () => {
    const client = await shopClient(['pii:contact:read']);
    const ContactAndName = new TypedDocumentString<{ user: { email: string | null; givenName: string | null } | null }, { ref: string }>(
      'query ContactAndName($ref: ID!) { user(ref: $ref) { email givenName } }',
    );
    const result = await client.request(ContactAndName, { ref: alice.refs[shop] }, { purpose: 'order_fulfillment' });
    expect(result.data.user).toEqual({ email: PROFILE.email, givenName: null });
    expect(result.errors).toHaveLength(1);
    const refused = errorAt(result.errors, ['user', 'givenName']);
    expect(refused).toMatchObject({ code: 'SCOPE_REQUIRED', path: ['user', 'givenName'] });
    const code: ErrorCode | undefined = refused?.code;
    expect(code).toBe('SCOPE_REQUIRED');
    expect(errorAt(result.errors, ['user', 'email'])).toBeUndefined();
  });

  test('without a purpose the PII field is refused with PURPOSE_REQUIRED, the rest is released', async () => {
    const client = await shopClient(['pii:contact:read']);
    const result = await client.request(UserEmailDocument, { ref: alice.refs[shop] });
    expect(result.data.user).toEqual({ ref: alice.refs[shop], status: 'ACTIVE', email: null });
    expect(result.errors.map((e) => [e.code, e.path])).toEqual([['PURPOSE_REQUIRED', ['user', 'email']]]);
  });

  test("another tenant's ref is NOT_FOUND, exactly like an unknown one", async () => {
    const client = await shopClient(['pii:contact:read'], otherShop);
    const foreign = await client.request(UserEmailDocument, { ref: alice.refs[shop] }, { purpose: 'order_fulfillment' });
    expect(foreign.data.user).toBeNull();
    expect(foreign.errors.map((e) => [e.code, e.path])).toEqual([['NOT_FOUND', ['user']]]);
    const unknown = await client.request(UserEmailDocument, { ref: 'no-such-ref' }, { purpose: 'order_fulfillment' });
    expect(unknown.errors.map((e) => [e.code, e.message])).toEqual(foreign.errors.map((e) => [e.code, e.message]));
  });

  test("a customer the shop's admin blocked reads BLOCKED, their email refused USER_BLOCKED, until unblocked", async () => {
    const carol = await createSubject(stack, 'client-carol', { email: 'carol@example.com' }, [shop]);
    await grantConsent(stack, carol, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT'] });
    const ref = carol.refs[shop];
    const backend = await shopClient(['pii:contact:read']);
    const refusedBlock = (await backend.request(BlockUserDocument, { ref, reason: 'fraud-check' }).catch((e: unknown) => e)) as PrivgraphError;
    expect(refusedBlock).toBeInstanceOf(PrivgraphError);
    expect(refusedBlock.code).toBe('SCOPE_REQUIRED');

    const admin = await shopClient(['tenant:admin']);
    expect((await admin.request(BlockUserDocument, { ref, reason: 'fraud-check' })).data.blockUser).toEqual({ ref, status: 'BLOCKED' });
    const blocked = await backend.request(UserEmailDocument, { ref }, { purpose: 'order_fulfillment' });
    expect(blocked.data.user).toEqual({ ref, status: 'BLOCKED', email: null });
    expect(blocked.errors.map((e) => [e.code, e.path])).toEqual([['USER_BLOCKED', ['user', 'email']]]);

    expect((await admin.request(UnblockUserDocument, { ref })).data.unblockUser).toEqual({ ref, status: 'ACTIVE' });
    expect((await backend.request(UserEmailDocument, { ref }, { purpose: 'order_fulfillment' })).data.user?.email).toBe('carol@example.com');
  });

  test('a page of users by ref and status; variables may be left out when none is required', async () => {
    const client = await shopClient([]);
    const page = await client.request(UsersPageDocument);
    expect(page.errors).toEqual([]);
    expect(page.data.users.edges.map((e) => e.node.ref)).toContain(alice.refs[shop]);
  });

  test('a request refused as a whole throws a PrivgraphError with the code and no data', async () => {
    const client = createPrivgraphClient({ url: gatewayUrl, getToken: async () => 'not-a-jwt' });
    const error = await client.request(UserEmailDocument, { ref: alice.refs[shop] }, { purpose: 'order_fulfillment' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrivgraphError);
    expect((error as PrivgraphError).code).toBe('UNAUTHENTICATED');
    expect((error as PrivgraphError).status).toBe(401);

    // A subject may not publish a policy: nothing runs, the code says why.
    const subjectClient = createPrivgraphClient({ url: gatewayUrl, token: alice.token });
    const refused = await subjectClient
      .request(PublishPolicyVersionDocument, { input: { version: 'x1', url: 'https://shop.example/p', textHash: 'a'.repeat(64), purposes: [] } })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PrivgraphError);
    expect((refused as PrivgraphError).has('FORBIDDEN')).toBe(true);
  });

  test('error messages never repeat a variable value', async () => {
    const client = await shopClient(['pii:contact:read']);
    const secret = 'secret-value-4711@example.com';
    const Lookup = new TypedDocumentString<unknown, { ref: unknown }>('query Lookup($ref: ID!) { user(ref: $ref) { ref } }');
    const error = (await client.request(Lookup, { ref: { email: secret } }).catch((e: unknown) => e)) as PrivgraphError;
    expect(error).toBeInstanceOf(PrivgraphError);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify({ message: error.message, errors: error.errors })).not.toContain(secret);
    // The server quoted the value (GraphQL's coercion message); the client removed it.
    expect(error.message).toContain('[redacted]');
  });
});

/** A small HTTP double of the gateway: answers from a script and records each request body. */
async function double(answer: (body: any, count: number, req: IncomingMessage, res: ServerResponse) => void) {
  const bodies: any[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      const body = raw ? JSON.parse(raw) : undefined;
      bodies.push({ body, headers: req.headers });
      answer(body, bodies.length, req, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  return { url, bodies, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('retries', () => {
  const fast = { retries: 3, baseDelayMs: 1, maxDelayMs: 5 };

  test('a query answered 503 is retried with backoff until it succeeds', async () => {
    const server = await double((_body, count, _req, res) =>
      count <= 2 ? json(res, 503, { error: 'unavailable' }) : json(res, 200, { data: { user: { ref: 'r1', status: 'ACTIVE', email: 'x@example.com' } } }),
    );
    try {
      const client = createPrivgraphClient({ url: server.url, token: 't', retry: fast });
      const result = await client.request(UserEmailDocument, { ref: 'r1' }, { purpose: 'order_fulfillment' });
      expect(result.data.user?.email).toBe('x@example.com');
      expect(server.bodies).toHaveLength(3);
      expect(server.bodies.every((b) => b.headers['x-privacy-purpose'] === 'order_fulfillment' && b.headers.authorization === 'Bearer t')).toBe(true);
    } finally {
      await server.close();
    }
  });

  test('a query whose connection drops is retried; retries are bounded', async () => {
    const server = await double((_body, count, req, res) => (count === 1 ? req.socket.destroy() : json(res, 502, {})));
    try {
      const client = createPrivgraphClient({ url: server.url, token: 't', retry: fast });
      const error = (await client.request(UserEmailDocument, { ref: 'r1' }).catch((e: unknown) => e)) as PrivgraphError;
      expect(error).toBeInstanceOf(PrivgraphError);
      expect([error.code, error.status]).toEqual(['HTTP_ERROR', 502]);
      expect(server.bodies).toHaveLength(1 + fast.retries);
    } finally {
      await server.close();
    }
  });

  test('a mutation is never retried: not on 503, not on a dropped connection', async () => {
    const server = await double((body, _count, req, res) => (body.variables.input.version === 'drop' ? req.socket.destroy() : json(res, 503, {})));
    try {
      const client = createPrivgraphClient({ url: server.url, token: 't', retry: fast });
      const input = { version: 'v1', url: 'https://shop.example/p', textHash: 'a'.repeat(64), purposes: [] };
      const unavailable = (await client.request(PublishPolicyVersionDocument, { input }).catch((e: unknown) => e)) as PrivgraphError;
      expect([unavailable.code, unavailable.status]).toEqual(['HTTP_ERROR', 503]);
      expect(server.bodies).toHaveLength(1);
      const dropped = (await client.request(PublishPolicyVersionDocument, { input: { ...input, version: 'drop' } }).catch((e: unknown) => e)) as PrivgraphError;
      expect(dropped.code).toBe('NETWORK_ERROR');
      expect(dropped.message).not.toContain('drop');
      expect(server.bodies).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});

describe('persisted queries (APQ)', () => {
  const manifestEntry = (name: string) => manifest.operations.find((op) => op.name === name)!;

  test('against the gateway: a manifest operation goes hash-only first, its text follows only if the hash is unknown', async () => {
    const sent: any[] = [];
    const recording: typeof fetch = async (input, init) => {
      sent.push(JSON.parse(String(init?.body)));
      return fetch(input, init);
    };
    const client = createPrivgraphClient({ url: gatewayUrl, token: await stack.tokens.tenant(shop, ['pii:contact:read']), fetch: recording });
    const entry = manifestEntry('UserEmail');
    const first = await client.request(UserEmailDocument, { ref: alice.refs[shop] }, { purpose: 'order_fulfillment' });
    expect(first.data.user?.email).toBe(PROFILE.email);
    expect(first.errors).toEqual([]);
    expect(sent[0]).toEqual({ operationName: 'UserEmail', variables: { ref: alice.refs[shop] }, extensions: { persistedQuery: { version: 1, sha256Hash: entry.id } } });
    // A gateway that did not know the hash answered PERSISTED_QUERY_NOT_FOUND; the client sent the manifest's body along.
    for (const retry of sent.slice(1)) expect(retry).toMatchObject({ query: entry.body, extensions: { persistedQuery: { sha256Hash: entry.id } } });
    expect(sent.length).toBeLessThanOrEqual(2);

    const second = await client.request(UserEmailDocument, { ref: alice.refs[shop] }, { purpose: 'order_fulfillment' });
    expect(second.data.user?.email).toBe(PROFILE.email);
  });

  test('an ad-hoc document is sent with its text and hash in one request', async () => {
    const sent: any[] = [];
    const client = createPrivgraphClient({
      url: gatewayUrl,
      token: await stack.tokens.tenant(shop, []),
      fetch: async (input, init) => {
        sent.push(JSON.parse(String(init?.body)));
        return fetch(input, init);
      },
    });
    const result = await client.request<{ users: { edges: unknown[] } }, Record<string, never>>('query AdHoc { users(first: 1) { edges { cursor } } }');
    expect(result.errors).toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sent[0].query).toBe('query AdHoc { users(first: 1) { edges { cursor } } }');
    expect(sent[0].extensions.persistedQuery.sha256Hash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a server that never knows the hash: the text is resent once, then sent along every time', async () => {
    const server = await double((body, _count, _req, res) =>
      body.query === undefined
        ? json(res, 200, { errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] })
        : json(res, 200, { data: { user: null } }),
    );
    try {
      const client = createPrivgraphClient({ url: server.url, token: 't' });
      const entry = manifestEntry('UserContact');
      await client.request(UserContactDocument, { ref: 'r' }, { purpose: 'order_fulfillment' });
      expect(server.bodies.map((b) => b.body.query)).toEqual([undefined, entry.body]);
      await client.request(UserContactDocument, { ref: 'r' }, { purpose: 'order_fulfillment' });
      expect(server.bodies.map((b) => b.body.query)).toEqual([undefined, entry.body, entry.body]);
      expect(server.bodies.every((b) => b.body.extensions.persistedQuery.sha256Hash === entry.id)).toBe(true);
    } finally {
      await server.close();
    }
  });

  test('a server without persisted queries: the request is resent as plain GraphQL and the client stops hashing', async () => {
    const server = await double((body, _count, _req, res) =>
      body.extensions
        ? json(res, 200, { errors: [{ message: 'PersistedQueryNotSupported', extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED' } }] })
        : json(res, 200, { data: { user: null } }),
    );
    try {
      const client = createPrivgraphClient({ url: server.url, token: 't' });
      await client.request(UserContactDocument, { ref: 'r' }, { purpose: 'order_fulfillment' });
      await client.request(UserContactDocument, { ref: 'r' }, { purpose: 'order_fulfillment' });
      expect(server.bodies.map((b) => [b.body.query !== undefined, b.body.extensions !== undefined])).toEqual([
        [false, true],
        [true, false],
        [true, false],
      ]);
    } finally {
      await server.close();
    }
  });
});

describe('the manifest and a safelist in ENFORCE', () => {
  test('a tenant admin registers the package manifest; then only its operations run for that tenant', async () => {
    const enforced = await createTenant(stack, 'Enforcing Shop');
    const bob = await createSubject(stack, 'client-bob', { email: 'bob@example.com' }, [enforced]);
    await grantConsent(stack, bob, { tenantId: enforced, purpose: 'order_fulfillment', categories: ['CONTACT'] });
    const admin = createPrivgraphClient({ url: gatewayUrl, token: await stack.tokens.tenant(enforced, ['tenant:admin']) });
    const registered = await admin.request(RegisterPersistedOperationsDocument, { manifest });
    expect(registered.data.registerPersistedOperations).toMatchObject({ added: manifest.operations.length, total: manifest.operations.length });
    const settings = await admin.request(TenantSettingsDocument);
    expect(settings.data.tenantSettings.persistedOperations.map((op) => op.id).sort()).toEqual(manifest.operations.map((op) => op.id).sort());
    expect((await admin.request(SetSafelistModeDocument, { mode: 'ENFORCE' })).data.setSafelistMode.safelistMode).toBe('ENFORCE');

    const sent: any[] = [];
    const backend = createPrivgraphClient({
      url: gatewayUrl,
      token: await stack.tokens.tenant(enforced, ['pii:contact:read']),
      fetch: async (input, init) => {
        sent.push(JSON.parse(String(init?.body)));
        return fetch(input, init);
      },
    });
    const read = await backend.request(UserEmailDocument, { ref: bob.refs[enforced] }, { purpose: 'order_fulfillment' });
    expect(read).toMatchObject({ data: { user: { email: 'bob@example.com' } }, errors: [] });
    // Registered: answered from the hash alone, in one round trip.
    expect(sent).toHaveLength(1);
    expect(sent[0].query).toBeUndefined();

    const adHoc = (await backend
      .request<unknown, { ref: string }>('query Everything($ref: ID!) { user(ref: $ref) { email givenName } }', { ref: bob.refs[enforced] }, { purpose: 'order_fulfillment' })
      .catch((e: unknown) => e)) as PrivgraphError;
    expect(adHoc).toBeInstanceOf(PrivgraphError);
    expect(adHoc.code).toBe('OPERATION_NOT_SAFELISTED');
  });
});

describe('verifyPassport', () => {
  let key: SigningKey;
  let jwksUrl: string;
  const PASSPORT = 'privgraph-passport+jwt';

  beforeAll(async () => {
    key = await loadSigningKey(devSigningKeyPath(stack.dataDir), { create: false });
    jwksUrl = `${stack.running.gateway.url}/.well-known/jwks.json`;
  });

  /** A passport in the shape identity issues, signed with the platform key (or another), with overrides. */
  async function passport(overrides: { claims?: Record<string, unknown>; typ?: string; signer?: { kid: string; privateKey: SigningKey['privateKey'] }; alg?: string } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'urn:privgraph:platform',
      sub: alice.refs[shop],
      aud: shop,
      azp: 'client-shop-storefront',
      iat: now,
      exp: now + 600,
      jti: '6c1f5a4e-2f0e-4bde-9a55-0b8f2b7a9e10',
      status: 'ACTIVE',
      email_verified: true,
      phone_number_verified: false,
      purposes: ['order_fulfillment'],
      ...overrides.claims,
    };
    const signer = overrides.signer ?? key;
    return new SignJWT(claims).setProtectedHeader({ alg: overrides.alg ?? 'ES256', kid: signer.kid, typ: overrides.typ ?? PASSPORT }).sign(signer.privateKey);
  }

  const codeOf = async (token: string, options: Partial<Parameters<typeof verifyPassport>[1]> = {}): Promise<PassportErrorCode | 'VALID'> => {
    try {
      await verifyPassport(token, { jwksUrl, audience: shop, ...options });
      return 'VALID';
    } catch (error) {
      return (error as { code: PassportErrorCode }).code;
    }
  };

  test("a passport verifies against the gateway's published keys and reads as who is signed in", async () => {
    const verified = await verifyPassport(await passport(), { jwksUrl, audience: shop, issuer: 'urn:privgraph:platform' });
    expect(verified).toEqual({
      ref: alice.refs[shop],
      tenantId: shop,
      authorizedParty: 'client-shop-storefront',
      status: 'ACTIVE',
      emailVerified: true,
      phoneNumberVerified: false,
      purposes: ['order_fulfillment'],
      issuedAt: expect.any(Date),
      expiresAt: expect.any(Date),
      id: '6c1f5a4e-2f0e-4bde-9a55-0b8f2b7a9e10',
      issuer: 'urn:privgraph:platform',
    });
    expect(verified.expiresAt.getTime() - verified.issuedAt.getTime()).toBe(600_000);
    // The same with the key set handed over directly.
    const jwks = (await (await fetch(jwksUrl)).json()) as { keys: object[] };
    await expect(verifyPassport(await passport(), { jwks: jwks as never, audience: shop })).resolves.toMatchObject({ ref: alice.refs[shop] });
  });

  test('a passport issued by privgraph (issuePassport) to the shop\'s registered storefront app verifies and names the subject by the shop\'s ref and the app', async () => {
    // The shop's admin registers its storefront app (SetStorefrontClients); alice signed in to that app.
    const admin = await shopClient(['tenant:admin']);
    const registered = await admin.request(SetStorefrontClientsDocument, { clientIds: ['client-shop-storefront'] });
    expect(registered.data.setStorefrontClients.storefrontClients).toEqual(['client-shop-storefront']);
    const onStorefront = await stack.tokens.subject(alice.name, { clientId: 'client-shop-storefront' });
    const issued = await stack.gql<{ issuePassport: { token: string; expiresAt: string } }>(
      'mutation($t: ID!) { issuePassport(tenantId: $t) { token expiresAt } }',
      { t: shop },
      { token: onStorefront },
    );
    expect(issued.errors).toBeUndefined();
    const verified = await verifyPassport(issued.data!.issuePassport.token, { jwksUrl, audience: shop });
    expect(verified).toMatchObject({ ref: alice.refs[shop], tenantId: shop, authorizedParty: 'client-shop-storefront', status: 'ACTIVE', emailVerified: false, phoneNumberVerified: false, purposes: ['order_fulfillment'] });
    expect(verified.expiresAt.toISOString()).toBe(new Date(issued.data!.issuePassport.expiresAt).toISOString());
    await expect(verifyPassport(issued.data!.issuePassport.token, { jwksUrl, audience: otherShop })).rejects.toMatchObject({ code: 'PASSPORT_AUDIENCE_MISMATCH' });
    await expect(verifyPassport(issued.data!.issuePassport.token, { jwksUrl, audience: shop, issuer: verified.issuer })).resolves.toMatchObject({ ref: alice.refs[shop] });
  });

  test('refused: another audience, expired, wrong issuer', async () => {
    expect(await codeOf(await passport(), { audience: otherShop })).toBe('PASSPORT_AUDIENCE_MISMATCH');
    expect(await codeOf(await passport({ claims: { aud: [shop, otherShop] } }))).toBe('PASSPORT_INVALID');
    const past = Math.floor(Date.now() / 1000) - 3600;
    expect(await codeOf(await passport({ claims: { iat: past, exp: past + 600 } }))).toBe('PASSPORT_EXPIRED');
    expect(await codeOf(await passport(), { issuer: 'https://another-platform.example' })).toBe('PASSPORT_ISSUER_MISMATCH');
  });

  test('refused: documents of another kind signed with the same key (consent receipt, audit checkpoint, access-token typ)', async () => {
    expect(receiptJws.split('.')).toHaveLength(3);
    expect(await codeOf(receiptJws)).toBe('PASSPORT_INVALID');
    const checkpoint = await passport({ typ: 'privgraph-audit-checkpoint+jws' });
    expect(await codeOf(checkpoint)).toBe('PASSPORT_INVALID');
    expect(await codeOf(await passport({ typ: 'at+jwt' }))).toBe('PASSPORT_INVALID');
  });

  test('refused: tampered, signed with an unknown key, or with a forged kid', async () => {
    const [header, payload, signature] = (await passport()).split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, purposes: ['marketing', 'order_fulfillment'] })).toString('base64url');
    expect(await codeOf(`${header}.${forged}.${signature}`)).toBe('PASSPORT_INVALID');
    expect(await codeOf('not-a-token')).toBe('PASSPORT_INVALID');

    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const strangerKid = `stranger-${(await exportJWK(privateKey)).x}`;
    expect(await codeOf(await passport({ signer: { kid: strangerKid, privateKey } }))).toBe('PASSPORT_KEY_UNKNOWN');
    expect(await codeOf(await passport({ signer: { kid: key.kid, privateKey } }))).toBe('PASSPORT_INVALID');
  });

  test('a key set that cannot be fetched is reported as such, not as a bad passport', async () => {
    const broken = await double((_body, _count, _req, res) => json(res, 500, {}));
    try {
      expect(await codeOf(await passport(), { jwksUrl: broken.url.replace('/graphql', '/jwks.json') })).toBe('PASSPORT_JWKS_UNAVAILABLE');
    } finally {
      await broken.close();
    }
    expect(await codeOf(await passport(), { jwksUrl: 'http://127.0.0.1:1/.well-known/jwks.json' })).toBe('PASSPORT_JWKS_UNAVAILABLE');
  });

  test('refused: claims of the wrong shape', async () => {
    expect(await codeOf(await passport({ claims: { purposes: 'order_fulfillment' } }))).toBe('PASSPORT_INVALID');
    expect(await codeOf(await passport({ claims: { email_verified: 'yes' } }))).toBe('PASSPORT_INVALID');
    expect(await codeOf(await passport({ claims: { status: 'SOMETHING' } }))).toBe('PASSPORT_INVALID');
    expect(await codeOf(await passport({ claims: { jti: undefined } }))).toBe('PASSPORT_INVALID');
    expect(await codeOf(await passport({ claims: { sub: 42 } }))).toBe('PASSPORT_INVALID');
    expect(await codeOf(await passport({ claims: { azp: undefined } }))).toBe('PASSPORT_INVALID');
    expect(await codeOf(await passport({ claims: { azp: ['client-shop-storefront'] } }))).toBe('PASSPORT_INVALID');
  });
});
