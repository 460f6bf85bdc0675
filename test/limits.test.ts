import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allow } from 'graphql-shield';
import { Client } from 'pg';
import { generateDevIssuerKey, type DevIssuerKey } from '../shared/auth/dev-issuer';
import { createTokenVerifier } from '../shared/auth/verifier';
import { loadCommonConfig, type ServiceName } from '../shared/config';
import { requestContext } from '../shared/context';
import { INTERNAL_TOKEN_HEADER } from '../shared/internal-api';
import { guardSchema } from '../shared/permissions';
import type { RunningService } from '../shared/server/graphql-service';
import { startSubgraph } from '../shared/server/subgraph';
import { startGateway } from '../gateway/src/app';
import { loadGatewayConfig } from '../gateway/src/config';
import { startTestStack, type TestStack } from './kit/stack';

/**
 * The request limits (docs/security.md#limits) hold at the gateway and on every subgraph port alike:
 * a subgraph is reachable directly when the network allows it, so it counts for itself.
 */
interface Answer {
  status: number;
  codes: unknown[];
  messages: string[];
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const json = (await response.json()) as { errors?: { message: string; extensions?: { code?: unknown } }[] };
  return { status: response.status, codes: (json.errors ?? []).map((e) => e.extensions?.code), messages: (json.errors ?? []).map((e) => e.message) };
}

const repeat = (count: number, make: (i: number) => string) => Array.from({ length: count }, (_, i) => make(i)).join(' ');
const refusedByLimit = { status: 400, codes: ['GRAPHQL_VALIDATION_FAILED'] };
const ALICE_ID = '00000000-0000-4000-8000-00000000a11c';

describe('limits at the gateway and on subgraph ports', () => {
  let stack: TestStack;
  const url = (target: 'gateway' | ServiceName) => (target === 'gateway' ? stack.running.gateway.graphqlUrl : stack.running.subgraphs[target].graphqlUrl);

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test.each(['gateway', 'identity', 'pii'] as const)('101 aliases of __typename are refused at the %s', async (target) => {
    const answer = await post(url(target), { query: `{ ${repeat(101, (i) => `a${i}: __typename`)} }` });
    expect(answer).toMatchObject(refusedByLimit);
    expect(answer.messages[0]).toMatch(/101 aliases; the limit is 30/);
    expect(await post(url(target), { query: `{ ${repeat(30, (i) => `a${i}: __typename`)} }` })).toMatchObject({ status: 200, codes: [] });
  });

  test.each(['gateway', 'consent', 'audit'] as const)('a field repeated 500 times in one selection set is refused at the %s', async (target) => {
    expect(await post(url(target), { query: `{ ${repeat(500, () => '__typename')} }` })).toMatchObject(refusedByLimit);
    expect(await post(url(target), { query: `{ ${repeat(6, () => '...F')} } fragment F on Query { __typename }` })).toMatchObject(refusedByLimit);
    expect(await post(url(target), { query: `{ ${repeat(5, () => '__typename')} }` })).toMatchObject({ status: 200, codes: [] });
  });

  test('30 aliased pages sized by a variable are refused like the literal form', async () => {
    const pages = (first: string) => repeat(30, (i) => `p${i}: users(first: ${first}) { edges { node { ref } } }`);
    const literal = await post(url('gateway'), { query: `{ ${pages('1000')} }` });
    const variable = await post(url('gateway'), { query: `query($n: Int) { ${pages('$n')} }`, variables: { n: 1000 } });
    const variableDefault = await post(url('gateway'), { query: `query($n: Int = 1000) { ${pages('$n')} }` });
    for (const answer of [literal, variable, variableDefault]) {
      expect(answer).toMatchObject(refusedByLimit);
      expect(answer.messages[0]).toBe('The operation costs 90030; the limit is 20000');
    }
    const direct = await post(url('identity'), { query: `query($n: Int) { ${pages('$n')} }`, variables: { n: 1000 } });
    expect(direct).toMatchObject(refusedByLimit);
  });

  test('the benchmark page of 100 users with 3 PII fields passes the limits (and reaches the resolvers)', async () => {
    const tenant = await stack.tokens.tenant('00000000-0000-4000-8000-0000000000aa', ['pii:contact:read', 'pii:identity:read']);
    const page = await post(url('gateway'), { query: '{ users(first: 100) { edges { node { ref email phone givenName } } } }' }, { authorization: `Bearer ${tenant}` });
    expect(page.codes).not.toContain('GRAPHQL_VALIDATION_FAILED');
    expect(page.status).not.toBe(400);
    // What the gateway then asks the vault for: 100 entities with the three fields
    const representations = Array.from({ length: 100 }, () => ({ __typename: 'User', id: ALICE_ID }));
    const fetch = await post(url('pii'), { query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email phone givenName } } }', variables: { r: representations } });
    expect(fetch.codes).not.toContain('GRAPHQL_VALIDATION_FAILED');
    expect(fetch.status).not.toBe(400);
  });

  test.each(['gateway', 'identity', 'audit'] as const)('a syntax error is a 400 GRAPHQL_PARSE_FAILED at the %s', async (target) => {
    expect(await post(url(target), { query: '{ me { status ' })).toMatchObject({ status: 400, codes: ['GRAPHQL_PARSE_FAILED'] });
    expect(await post(url(target), { query: 'query { user(ref: "a" { ref } }' })).toMatchObject({ status: 400, codes: ['GRAPHQL_PARSE_FAILED'] });
  });

  test.each(['gateway', 'pii'] as const)('a document of more than 5000 tokens is a 400 GRAPHQL_VALIDATION_FAILED at the %s', async (target) => {
    const huge = await post(url(target), { query: `{ user(ref: [${repeat(6000, () => '"a"')}]) { ref } }` });
    expect(huge).toMatchObject(refusedByLimit);
    expect(huge.messages[0]).toMatch(/more than 5000 tokens/);
  });

  test('many _entities lists on a subgraph port are refused, and so are more than 500 representations in all', async () => {
    const fifty = Array.from({ length: 50 }, () => ({ __typename: 'User', id: ALICE_ID }));
    const forty = `query($r: [_Any!]!) { ${repeat(40, (i) => `e${i}: _entities(representations: $r) { __typename }`)} }`;
    expect(await post(url('pii'), { query: forty, variables: { r: fifty } })).toMatchObject(refusedByLimit);
    const threeHundred = Array.from({ length: 300 }, () => ({ __typename: 'User', id: ALICE_ID }));
    const two = 'query($r: [_Any!]!) { a: _entities(representations: $r) { __typename } b: _entities(representations: $r) { __typename } }';
    for (const target of ['pii', 'consent', 'identity'] as const) {
      const answer = await post(url(target), { query: two, variables: { r: threeHundred } });
      expect({ target, ...answer }).toMatchObject({ target, ...refusedByLimit, messages: ['The request asks for 600 entities; the limit is 500'] });
    }
  });

  test('outside production a misspelling is answered with a suggestion (the contrast to production below)', async () => {
    const answer = await post(url('gateway'), { query: '{ mee { status } }' });
    expect(answer.messages.join(' ')).toMatch(/Did you mean "me"\?/);
  });
});

describe('production: no suggestions on any port, the SDL only with the internal credential', () => {
  const ISSUER = 'https://idp.example.test/oidc';
  const AUDIENCE = 'https://api.example.test';
  const INTERNAL_API_TOKEN = 'limits-test-internal-token-of-32-characters';
  const SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
    enum Colour { CRIMSON EMERALD }
    type Query { paint(colour: Colour): Boolean }`;
  const prefix = `limits_probe_${process.pid}`;
  let key: DevIssuerKey;
  let jwksServer: Server;
  let dir: string;
  let gateway: RunningService;
  let subgraph: RunningService;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'privgraph-limits-'));
    writeFileSync(join(dir, 'probe.graphql'), SDL);
    key = await generateDevIssuerKey();
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(key.jwks)));
    jwksServer.listen(0, '127.0.0.1');
    await new Promise((resolve) => jwksServer.once('listening', resolve));
    const env = {
      NODE_ENV: 'production',
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_JWKS_URL: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`,
      INTERNAL_API_TOKEN,
      HOST: '127.0.0.1',
      PORT: '0',
    };
    gateway = await startGateway(loadGatewayConfig(env));
    const common = loadCommonConfig(env, 'PORT', 0);
    const verifier = createTokenVerifier(common.auth);
    const directory = {
      resolveSubject: async () => ({ subjectId: '00000000-0000-4000-8000-000000000001', status: 'ACTIVE' as const }),
      resolveTenant: async () => ({ tenantId: '00000000-0000-4000-8000-000000000002' }),
    };
    subgraph = await startSubgraph({
      name: 'consent',
      common,
      database: { url: process.env.DATABASE_URL as string, schema: prefix, poolSize: 2 },
      sdlPath: join(dir, 'probe.graphql'),
      entities: [],
      migrations: [],
      resolvers: { Query: { paint: () => true } },
      applyPermissions: (schema) => guardSchema(schema, { Query: { paint: allow } }),
      setup: () => ({ context: (req) => requestContext(req, verifier, directory) }),
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await subgraph?.stop();
    jwksServer?.close();
    const client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${prefix}" CASCADE`);
    await client.end();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const misspellings = {
    gateway: {
      field: '{ mee { status } }',
      argument: '{ users(frist: 2) { edges { cursor } } }',
      'enum value': '{ webhookDeliveries(status: DELIVERD) { edges { cursor } } }',
      'enum value in a variable': ['query($s: WebhookDeliveryStatus) { webhookDeliveries(status: $s) { edges { cursor } } }', { s: 'DELIVERD' }],
      type: 'query($s: WebhookDeliveryStatu) { webhookDeliveries(status: $s) { edges { cursor } } }',
    },
    subgraph: {
      field: '{ pain }',
      argument: '{ paint(colur: CRIMSON) }',
      'enum value': '{ paint(colour: CRIMSO) }',
      'enum value in a variable': ['query($c: Colour) { paint(colour: $c) }', { c: 'EMERAL' }],
      type: 'query($c: Colou) { paint(colour: $c) }',
    },
  } as const;
  /** A suggestion in any wording: the phrase, or a valid name the misspelling is close to. */
  const SUGGESTED = /[Dd]id you mean|\bDELIVERED\b|\bCRIMSON\b|\bEMERALD\b|"me"|"first"|"colour"/;

  test.each(['gateway', 'subgraph'] as const)('the %s suggests no field, argument, enum value or type', async (target) => {
    const service = target === 'gateway' ? gateway : subgraph;
    for (const [kind, request] of Object.entries(misspellings[target])) {
      const [query, variables] = typeof request === 'string' ? [request, undefined] : request;
      const answer = await post(service.graphqlUrl, { query, variables });
      expect({ kind, status: answer.status >= 400 && answer.status < 500 }).toEqual({ kind, status: true });
      expect(answer.messages.length).toBeGreaterThan(0);
      for (const message of answer.messages) expect({ kind, message }).toEqual({ kind, message: expect.not.stringMatching(SUGGESTED) });
    }
  });

  test('the limits hold on a production subgraph port too', async () => {
    expect(await post(subgraph.graphqlUrl, { query: `{ ${repeat(31, (i) => `a${i}: _service { sdl }`)} }` })).toMatchObject(refusedByLimit);
    expect(await post(subgraph.graphqlUrl, { query: '{ paint(' })).toMatchObject({ status: 400, codes: ['GRAPHQL_PARSE_FAILED'] });
  });

  test('_service { sdl } answers the internal credential, not a wrong one nor the same secret as a bearer token', async () => {
    const sdl = async (headers: Record<string, string>) => {
      const response = await fetch(subgraph.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ _service { sdl } }' }) });
      return { status: response.status, body: (await response.json()) as { data?: { _service?: { sdl?: string } } } };
    };
    expect((await sdl({})).status).toBe(403);
    expect((await sdl({ [INTERNAL_TOKEN_HEADER]: 'not-the-internal-token-but-long-enough' })).status).toBe(403);
    expect((await sdl({ authorization: `Bearer ${INTERNAL_API_TOKEN}` })).status).not.toBe(200);
    const internal = await sdl({ [INTERNAL_TOKEN_HEADER]: INTERNAL_API_TOKEN });
    expect(internal.status).toBe(200);
    expect(internal.body.data?._service?.sdl).toContain('paint');
  });
});
