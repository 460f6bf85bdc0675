import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allow } from 'graphql-shield';
import { Client } from 'pg';
import { generateDevIssuerKey, mintDevToken, type DevIssuerKey } from '../shared/auth/dev-issuer';
import { createTokenVerifier } from '../shared/auth/verifier';
import { loadCommonConfig } from '../shared/config';
import { requestContext } from '../shared/context';
import { guardSchema } from '../shared/permissions';
import type { RunningService } from '../shared/server/graphql-service';
import { startSubgraph } from '../shared/server/subgraph';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent, subjectIdByEmail, type Subject } from './kit/scenario';

/**
 * Attacks on what the tenant-facing gateway features and the admin paths added: the safelist must not be
 * bypassed by the request's shape, a blocked user's PII must not leave the vault by any path, and the
 * subgraphs' own ports must not hand out their schema in production.
 */
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const manifest = (...bodies: [string, string, string][]) => ({
  format: 'apollo-persisted-query-manifest',
  version: 1,
  operations: bodies.map(([name, type, body]) => ({ id: sha256(body), name, type, body })),
});
const REGISTER = 'mutation($manifest: PersistedOperationManifestInput!) { registerPersistedOperations(manifest: $manifest) { total } }';
const SET_MODE = 'mutation($mode: SafelistMode!) { setSafelistMode(mode: $mode) { safelistMode } }';
const USER_REF = 'query UserRef($ref: ID!) { user(ref: $ref) { ref status } }';
const OTHERS_MAIL = 'query Mail($ref: ID!) { user(ref: $ref) { email } }';
const PURPOSE = 'order_fulfillment';

describe('the safelist in ENFORCE cannot be bypassed by the shape of the request', () => {
  let stack: TestStack;
  let shop: string;
  let alice: Subject;
  let admin: string;
  let backend: string;

  const post = async (body: unknown, token: string) => {
    const response = await fetch(stack.running.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-privacy-purpose': PURPOSE, authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
  };
  const piiReads = async () =>
    (await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.audit}".audit_event WHERE action = 'PII_READ'`))[0].n;

  beforeAll(async () => {
    stack = await startTestStack({ env: { TENANT_POLICY_CACHE_MS: '0' } });
    shop = await createTenant(stack, 'Probe Shop');
    const other = await createTenant(stack, 'Probe Other');
    alice = await createSubject(stack, 'probe-alice', { email: 'probe.alice@example.com' }, [shop, other]);
    await grantConsent(stack, alice, { tenantId: shop, purpose: PURPOSE, categories: ['CONTACT'] });
    admin = await stack.tokens.tenant(shop, ['tenant:admin', 'pii:contact:read']);
    backend = await stack.tokens.tenant(shop, ['pii:contact:read', 'pii:contact:read:masked']);
    const otherAdmin = await stack.tokens.tenant(other, ['tenant:admin']);
    expectNoErrors(await stack.gql(REGISTER, { manifest: manifest(['UserRef', 'query', USER_REF]) }, { token: admin }));
    expectNoErrors(await stack.gql(REGISTER, { manifest: manifest(['Mail', 'query', OTHERS_MAIL]) }, { token: otherAdmin }));
    expectNoErrors(await stack.gql(SET_MODE, { mode: 'ENFORCE' }, { token: admin }));
  });
  afterAll(() => stack?.stop());

  test('GET, batches, another tenant\'s body, settings fields mixed with others (side by side, aliased, in a fragment), extra operations: refused, nothing read', async () => {
    const ref = alice.refs[shop];
    const before = await piiReads();
    expect((await post({ query: USER_REF, variables: { ref } }, backend)).body).toEqual({ data: { user: { ref, status: 'ACTIVE' } } });

    const url = new URL(stack.running.gateway.graphqlUrl);
    url.searchParams.set('query', `{ user(ref: "${ref}") { email } }`);
    const get = await fetch(url, { headers: { authorization: `Bearer ${backend}`, 'apollo-require-preflight': 'true', 'x-privacy-purpose': PURPOSE } });
    expect(codes((await get.json()) as { errors?: { extensions?: Record<string, unknown> }[] })).toEqual(['OPERATION_NOT_SAFELISTED']);

    expect(codes((await post([{ query: USER_REF, variables: { ref } }, { query: `{ user(ref: "${ref}") { email } }` }], backend)).body)).toEqual(['BAD_REQUEST']);

    const refused: [unknown, string][] = [
      [{ variables: { ref }, extensions: { persistedQuery: { version: 1, sha256Hash: sha256(OTHERS_MAIL) } } }, backend],
      [{ query: `{ tenantSettings { safelistMode } user(ref: "${ref}") { email } }` }, admin],
      [{ query: `{ tenantSettings: user(ref: "${ref}") { email } }` }, admin],
      [{ query: `{ tenantSettings { safelistMode } ...F } fragment F on Query { user(ref: "${ref}") { email } }` }, admin],
      [{ query: `{ tenantSettings { safelistMode } ... on Query { user(ref: "${ref}") { email } } }` }, admin],
      [{ query: `${USER_REF} query B { user(ref: "${ref}") { email } }`, operationName: 'UserRef', variables: { ref } }, backend],
    ];
    for (const [body, token] of refused) {
      const response = await post(body, token);
      expect([body, response.status, codes(response.body)]).toEqual([body, 403, ['OPERATION_NOT_SAFELISTED']]);
    }
    expect(await piiReads()).toBe(before);
  });

  test("tokens of an organization the tenant just moved away from are refused at once, not run ad hoc while other services' directory caches still map it", async () => {
    const moving = await createTenant(stack, 'Probe Moving Shop');
    const oldOrgAdmin = await stack.tokens.tenant(moving, ['tenant:admin']);
    const EVENTS = '{ auditEvents(first: 1) { edges { cursor } } }';
    // The audit service now maps the old organization to the tenant (its directory cache).
    expectNoErrors(await stack.gql(EVENTS, {}, { token: oldOrgAdmin }));
    expectNoErrors(await stack.gql(SET_MODE, { mode: 'ENFORCE' }, { token: oldOrgAdmin }));
    const moved = await stack.gql('mutation($id: ID!, $input: UpdateTenantInput!) { updateTenant(id: $id, input: $input) { idpOrganizationId } }', {
      id: moving,
      input: { idpOrganizationId: `org_${moving.slice(0, 8)}` },
    }, { token: await stack.tokens.admin() });
    expectNoErrors(moved);
    const adHoc = await stack.gql(EVENTS, {}, { token: oldOrgAdmin });
    expect({ status: adHoc.status, data: adHoc.data ?? null, codes: codes(adHoc) }).toEqual({ status: 403, data: null, codes: ['FORBIDDEN'] });
  });

  test('a blocked user\'s PII stays in the vault on the pii port too, under the full and the masked scope', async () => {
    const ref = alice.refs[shop];
    // Blocking is no settings field: in ENFORCE it runs only registered, or on identity's own port.
    const blocked = await stack.gql('mutation($ref: ID!, $reason: String!) { blockUser(ref: $ref, reason: $reason) { status } }', { ref, reason: 'fraud-1' }, { token: admin, service: 'identity' });
    expect(blocked.data).toEqual({ blockUser: { status: 'BLOCKED' } });
    const id = await subjectIdByEmail(stack, 'probe.alice@example.com');
    for (const scopes of [['pii:contact:read'], ['pii:contact:read:masked']]) {
      const token = await stack.tokens.tenant(shop, scopes);
      const direct = await stack.gql('query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email phone } } }', { r: [{ __typename: 'User', id }] }, { token, service: 'pii', purpose: PURPOSE });
      expect(direct.data).toEqual({ _entities: [{ email: null, phone: null }] });
      expect(codes(direct)).toEqual(['USER_BLOCKED', 'USER_BLOCKED']);
    }
  });
});

describe("a subgraph's own port in production", () => {
  const ISSUER = 'https://idp.example.test/oidc';
  const AUDIENCE = 'https://api.example.test';
  const SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
    type Query { ok: Boolean }`;
  let key: DevIssuerKey;
  let jwksServer: Server;
  let dir: string;
  const started: RunningService[] = [];
  const prefix = `sdl_probe_${process.pid}`;

  async function startProbe(env: 'production' | 'development'): Promise<RunningService> {
    const common = loadCommonConfig(
      {
        NODE_ENV: env,
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_JWKS_URL: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`,
        INTERNAL_API_TOKEN: 'security-test-internal-token-of-32-characters',
        DATA_DIR: dir,
        HOST: '127.0.0.1',
        PROBE_PORT: '0',
      },
      'PROBE_PORT',
      0,
    );
    const verifier = createTokenVerifier(common.auth);
    const directory = {
      resolveSubject: async () => ({ subjectId: '00000000-0000-4000-8000-000000000001', status: 'ACTIVE' as const }),
      resolveTenant: async () => ({ tenantId: '00000000-0000-4000-8000-000000000002' }),
    };
    const service = await startSubgraph({
      name: 'consent',
      common,
      database: { url: process.env.DATABASE_URL as string, schema: `${prefix}_${env}`, poolSize: 2 },
      sdlPath: join(dir, 'probe.graphql'),
      entities: [],
      migrations: [],
      resolvers: { Query: { ok: () => true } },
      applyPermissions: (schema) => guardSchema(schema, { Query: { ok: allow } }),
      setup: () => ({ context: (req) => requestContext(req, verifier, directory) }),
    });
    started.push(service);
    return service;
  }
  const sdlOf = async (service: RunningService, token?: string) => {
    const response = await fetch(service.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: '{ _service { sdl } }' }),
    });
    const body = (await response.json()) as { data?: { _service?: { sdl?: string } } | null; errors?: { extensions?: Record<string, unknown> }[] };
    return { status: response.status, sdl: body.data?._service?.sdl ?? null, codes: codes(body) };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'privgraph-sdl-'));
    writeFileSync(join(dir, 'probe.graphql'), SDL);
    key = await generateDevIssuerKey();
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(key.jwks)));
    jwksServer.listen(0, '127.0.0.1');
    await new Promise((resolve) => jwksServer.once('listening', resolve));
  });
  afterAll(async () => {
    for (const service of started) await service.stop();
    jwksServer?.close();
    const client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${prefix}_production", "${prefix}_development" CASCADE`);
    await client.end();
    rmSync(dir, { recursive: true, force: true });
  });

  test('does not hand its SDL (the federation internals introspection is off for) to anyone but a platform admin', async () => {
    const service = await startProbe('production');
    const token = (claims: { sub: string; scopes?: string[]; organizationId?: string; clientId?: string }) =>
      mintDevToken(key, { ...claims, issuer: ISSUER, audience: AUDIENCE });
    for (const bearer of [
      undefined,
      await token({ sub: 'alice' }),
      await token({ sub: 'shop', clientId: 'shop', organizationId: 'org-1', scopes: ['tenant:admin', 'platform:admin'] }),
    ]) {
      expect(await sdlOf(service, bearer)).toEqual({ status: 403, sdl: null, codes: ['FORBIDDEN'] });
    }
    const admin = await sdlOf(service, await token({ sub: 'ops', clientId: 'ops', scopes: ['platform:admin'] }));
    expect(admin.sdl).toContain('type Query');
  });

  test('outside production the SDL stays open (composition and local tools read it)', async () => {
    const service = await startProbe('development');
    expect((await sdlOf(service)).sdl).toContain('type Query');
  });
});
