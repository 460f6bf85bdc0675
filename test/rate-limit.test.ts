import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { mintDevToken } from '../shared/auth/dev-issuer';
import { SERVICE_NAMES, type ServiceName } from '../shared/config';
import type { RunningService } from '../shared/server/graphql-service';
import { startGateway } from '../gateway/src/app';
import { loadGatewayConfig } from '../gateway/src/config';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createTenant, expectNoErrors } from './kit/scenario';

const TYPENAME = '{ __typename }';
const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;

/** A platform admin of its own (each `sub` has its own budget). */
const adminToken = (stack: TestStack, sub: string) => mintDevToken(stack.key, { sub, clientId: sub, scopes: ['platform:admin'] });

async function post(url: string, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  const body = (await response.json()) as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  return { status: response.status, headers: response.headers, data: body.data, errors: body.errors };
}

const remaining = (response: { headers: Headers }) => Number(response.headers.get('ratelimit-remaining'));

/** An anonymous POST from a chosen loopback address (the socket's source, which the gateway keys on). */
function postFrom(localAddress: string, url: string, query: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Headers; body: { data?: unknown; errors?: { extensions?: Record<string, unknown> }[] } }>((resolve, reject) => {
    const outgoing = request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers } }, (incoming) => {
      let text = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => (text += chunk));
      incoming.on('end', () => {
        const answer = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) if (typeof value === 'string') answer.set(name, value);
        resolve({ status: incoming.statusCode ?? 0, headers: answer, body: JSON.parse(text) });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(JSON.stringify({ query }));
  });
}

/** Spends a principal's whole budget with `{ __typename }` (1 point each); returns how many passed. */
async function spend(send: () => Promise<{ status: number }>, max: number): Promise<number> {
  for (let passed = 0; passed <= max; passed += 1) {
    if ((await send()).status === 429) return passed;
  }
  throw new Error(`no 429 within ${max + 1} requests`);
}

/** A second gateway in front of the same subgraphs, sharing the rate-limit store of the first. */
async function secondGateway(stack: TestStack, env: Record<string, string>): Promise<RunningService> {
  const subgraphUrls = Object.fromEntries(SERVICE_NAMES.map((name) => [name, stack.running.subgraphs[name].url])) as Record<ServiceName, string>;
  const config = loadGatewayConfig({
    NODE_ENV: 'test',
    PRIVGRAPH_DATA_DIR: stack.dataDir,
    DATABASE_URL: process.env.DATABASE_URL!,
    DB_SCHEMA_PREFIX: stack.reuse.prefix,
    INTERNAL_API_TOKEN: stack.reuse.internalToken,
    PORT: '0',
    ...env,
  });
  return startGateway(config, { subgraphUrls });
}

describe('rate limits (memory store)', () => {
  let stack: TestStack;
  let shopId: string;
  beforeAll(async () => {
    // A policy cache of 0 ms: a budget a platform admin sets applies to the very next request.
    stack = await startTestStack({ env: { RATE_LIMIT_POINTS: '20', RATE_LIMIT_ANONYMOUS_POINTS: '5', RATE_LIMIT_WINDOW_SECONDS: '3600', TENANT_POLICY_CACHE_MS: '0' } });
    shopId = await createTenant(stack, 'Rate Shop');
  });
  afterAll(() => stack?.stop());

  it('answers 429 with Retry-After, RateLimit-* and RATE_LIMITED once the budget is spent, and runs nothing', async () => {
    const token = await adminToken(stack, 'admin-spender');
    const create = (name: string) => stack.gql('mutation($name: String!) { createTenant(input: { name: $name }) { id } }', { name }, { token });
    const first = await create('Spender 0');
    expectNoErrors(first);
    // createTenant { id }: 2 points of 20.
    expect(first.headers.get('ratelimit-limit')).toBe('20');
    expect(remaining(first)).toBe(18);
    expect(Number(first.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    expect(first.headers.get('retry-after')).toBeNull();
    let created = 1;
    let refused: Awaited<ReturnType<typeof create>> | undefined;
    for (let i = 1; i <= 20 && !refused; i += 1) {
      const answer = await create(`Spender ${i}`);
      if (answer.status === 429) refused = answer;
      else {
        expectNoErrors(answer);
        created += 1;
      }
    }
    expect(created).toBe(10);
    expect(refused!.status).toBe(429);
    expect(codes(refused!)).toEqual(['RATE_LIMITED']);
    expect(refused!.data ?? null).toBeNull();
    expect(refused!.headers.get('ratelimit-limit')).toBe('20');
    expect(refused!.headers.get('ratelimit-remaining')).toBe('0');
    const retryAfter = Number(refused!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused!.headers.get('ratelimit-reset')).toBe(String(retryAfter));
    // Nothing ran: no tenant named "Spender 10" and no audit event for it.
    const tenants = await stack.sql<{ name: string }>(`SELECT name FROM "${stack.schemas.identity}".tenant WHERE name LIKE 'Spender %'`);
    expect(tenants).toHaveLength(10);
    const requestId = refused!.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    expect(await stack.sql(`SELECT 1 FROM "${stack.schemas.audit}".audit_event WHERE request_id = $1`, [requestId])).toHaveLength(0);
    // Another platform admin still has their budget.
    expectNoErrors(await stack.gql(TYPENAME, {}, { token: await adminToken(stack, 'admin-other') }));
  });

  it('charges by operation cost: one request with 20 aliases spends what 20 requests would', async () => {
    const token = await stack.tokens.subject(`alias-${randomUUID()}`);
    const one = await stack.gql(TYPENAME, {}, { token });
    expectNoErrors(one);
    expect(remaining(one)).toBe(19);
    const many = await stack.gql(aliases(19), {}, { token });
    expectNoErrors(many);
    expect(remaining(many)).toBe(0);
    const after = await stack.gql(TYPENAME, {}, { token });
    expect(after.status).toBe(429);
    expect(codes(after)).toEqual(['RATE_LIMITED']);
  });

  it('refuses a request costing more than the whole budget without charging it (not 429: waiting cannot help)', async () => {
    const token = await stack.tokens.subject(`big-${randomUUID()}`);
    const big = await stack.gql(aliases(25), {}, { token });
    expect(big.status).toBe(400);
    expect(codes(big)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(big.errors![0].message).toMatch(/costs 25 points, more than the whole budget of 20/);
    expect(big.headers.get('retry-after')).toBeNull();
    const after = await stack.gql(TYPENAME, {}, { token });
    expectNoErrors(after);
    expect(remaining(after)).toBe(19);
  });

  it("gives a tenant's backends and members the budget a platform admin set for the tenant, and back to the default", async () => {
    const admin = await adminToken(stack, 'admin-budgets');
    const shop = await createTenant(stack, 'Budget Shop');
    const set = (points: number | null, token = admin, tenantId = shop) =>
      stack.gql('mutation($tenantId: ID!, $points: Int) { setTenantRateLimit(tenantId: $tenantId, points: $points) { id rateLimitPoints } }', { tenantId, points }, { token });
    const changed = await set(3);
    expectNoErrors(changed);
    expect(changed.data!.setTenantRateLimit).toEqual({ id: shop, rateLimitPoints: 3 });
    const listed = await stack.gql('{ tenants { id rateLimitPoints } }', {}, { token: admin });
    expectNoErrors(listed);
    const rows = listed.data!.tenants as { id: string; rateLimitPoints: number | null }[];
    expect(rows.find((t) => t.id === shop)?.rateLimitPoints).toBe(3);
    expect(rows.filter((t) => t.id !== shop).every((t) => t.rateLimitPoints === null)).toBe(true);
    const events = await stack.sql<{ field: string; decision: string }>(
      `SELECT field, decision FROM "${stack.schemas.audit}".audit_event WHERE action = 'TENANT_SETTINGS_SET' AND tenant_id = $1`,
      [shop],
    );
    expect(events).toEqual([{ field: 'RateLimit.3', decision: 'ALLOW' }]);

    const backend = await stack.tokens.tenant(shop);
    const first = await stack.gql(TYPENAME, {}, { token: backend });
    expectNoErrors(first);
    expect(first.headers.get('ratelimit-limit')).toBe('3');
    expect(await spend(() => stack.gql(TYPENAME, {}, { token: backend }), 3)).toBe(2);
    // Staff have budgets of their own, of the tenant's size; another tenant keeps the default.
    const member = await stack.tokens.member(shop, 'staff-budget');
    expect((await stack.gql(TYPENAME, {}, { token: member })).headers.get('ratelimit-limit')).toBe('3');
    expect(codes(await stack.gql(aliases(4), {}, { token: member }))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const otherShop = await createTenant(stack, 'Default Budget Shop');
    expect((await stack.gql(TYPENAME, {}, { token: await stack.tokens.tenant(otherShop) })).headers.get('ratelimit-limit')).toBe('20');

    // Back to the default: the spent backend has 20 points again, less what it spent in this window.
    expectNoErrors(await set(null));
    const again = await stack.gql(TYPENAME, {}, { token: backend });
    expectNoErrors(again);
    expect(again.headers.get('ratelimit-limit')).toBe('20');
  });

  it('lets only platform admins set a tenant budget, and refuses unknown tenants and bad values', async () => {
    const shop = await createTenant(stack, 'Budget Guard Shop');
    const mutation = 'mutation($tenantId: ID!, $points: Int) { setTenantRateLimit(tenantId: $tenantId, points: $points) { id } }';
    const tenantAdmin = await stack.tokens.tenant(shop, ['tenant:admin']);
    expect(codes(await stack.gql(mutation, { tenantId: shop, points: 1_000_000 }, { token: tenantAdmin }))).toEqual(['FORBIDDEN']);
    const admin = await adminToken(stack, 'admin-budget-guard');
    expect(codes(await stack.gql(mutation, { tenantId: randomUUID(), points: 5 }, { token: admin }))).toEqual(['NOT_FOUND']);
    expect(codes(await stack.gql(mutation, { tenantId: 'not-a-tenant', points: 5 }, { token: admin }))).toEqual(['NOT_FOUND']);
    for (const points of [0, -1, 1_000_000_001]) {
      const refused = await stack.gql(mutation, { tenantId: shop, points }, { token: admin });
      expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    }
    const stored = await stack.sql(`SELECT rate_limit_points FROM "${stack.schemas.identity}".tenant_settings WHERE tenant_id = $1`, [shop]);
    expect(stored).toEqual([]);
  });

  it('keeps separate budgets for a shop backend, each staff member, each subject', async () => {
    const backend = await stack.tokens.tenant(shopId);
    const member = await stack.tokens.member(shopId, 'staff-anna');
    const colleague = await stack.tokens.member(shopId, 'staff-ben');
    const subject = await stack.tokens.subject(`sep-${randomUUID()}`);
    const other = await stack.tokens.subject(`sep-${randomUUID()}`);
    expect(await spend(() => stack.gql(TYPENAME, {}, { token: backend }), 20)).toBe(20);
    for (const token of [member, subject]) expectNoErrors(await stack.gql(TYPENAME, {}, { token }));
    expect(await spend(() => stack.gql(TYPENAME, {}, { token: member }), 20)).toBe(19);
    for (const token of [colleague, subject]) expectNoErrors(await stack.gql(TYPENAME, {}, { token }));
    expect(await spend(() => stack.gql(TYPENAME, {}, { token: subject }), 20)).toBe(18);
    expectNoErrors(await stack.gql(TYPENAME, {}, { token: other }));
    // A fresh token for the same shop backend is the same principal.
    expect((await stack.gql(TYPENAME, {}, { token: await stack.tokens.tenant(shopId) })).status).toBe(429);
  });

  it('limits anonymous requests by the connecting address, which X-Forwarded-For does not change', async () => {
    const url = stack.running.gateway.graphqlUrl;
    expect(await spend(() => postFrom('127.0.0.3', url, TYPENAME), 5)).toBe(5);
    const spoofed = await postFrom('127.0.0.3', url, TYPENAME, { 'x-forwarded-for': '203.0.113.7' });
    expect(spoofed.status).toBe(429);
    expect(spoofed.body.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    expect(spoofed.headers.get('ratelimit-limit')).toBe('5');
    const elsewhere = await postFrom('127.0.0.4', url, TYPENAME);
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.data).toEqual({ __typename: 'Query' });
    expect(remaining(elsewhere)).toBe(4);
    // A token holder coming from the spent address has a budget of their own.
    expectNoErrors(await stack.gql(TYPENAME, {}, { token: await stack.tokens.subject(`anon-${randomUUID()}`) }));
  });
});

/**
 * Shared stores serve several gateway replicas, which run against PostgreSQL. On the embedded PGlite (one process,
 * one WASM session) the two gateways of this test did not share the postgres store's counts (each answered as its
 * own insurance limiter would), so that case runs on PostgreSQL only.
 */
const onPostgres = (process.env.PRIVGRAPH_TEST_DATABASE ?? '').startsWith('postgresql');
const sharedStores = [
  ...(onPostgres ? [['postgres', { RATE_LIMIT_STORE: 'postgres' }] as const] : []),
  ['redis', { RATE_LIMIT_STORE: 'redis', RATE_LIMIT_REDIS_URL: 'redis://127.0.0.1:6379' }] as const,
];

describe.each(sharedStores)('rate limits shared by two gateways (%s store)', (store, storeEnv) => {
  let stack: TestStack;
  let second: RunningService;
  // A generous store timeout: under load (the embedded PGlite serves every connection in one session) a slow answer
  // would hand the request to the per-replica insurance limiter, which is not what this test is about.
  const env = { ...storeEnv, RATE_LIMIT_POINTS: '10', RATE_LIMIT_WINDOW_SECONDS: '3600', RATE_LIMIT_STORE_TIMEOUT_MS: '5000' };
  beforeAll(async () => {
    stack = await startTestStack({ env });
    second = await secondGateway(stack, env);
  });
  afterAll(async () => {
    await second?.stop();
    await stack?.stop();
  });

  it('charges one budget whichever replica a request reaches', async () => {
    const name = `shared-${randomUUID()}`;
    const token = await stack.tokens.subject(name);
    const headers = { authorization: `Bearer ${token}` };
    const first = await post(stack.running.gateway.graphqlUrl, aliases(6), headers);
    expect(first.status).toBe(200);
    expect(remaining(first)).toBe(4);
    const onSecond = await post(second.graphqlUrl, TYPENAME, headers);
    expect(onSecond.status).toBe(200);
    expect(remaining(onSecond)).toBe(3);
    expect(await spend(() => post(second.graphqlUrl, TYPENAME, headers), 10)).toBe(3);
    const back = await post(stack.running.gateway.graphqlUrl, TYPENAME, headers);
    expect(back.status).toBe(429);
    expect(back.errors?.map((e) => e.extensions?.code)).toEqual(['RATE_LIMITED']);
    // Another subject is untouched on either replica.
    const other = { authorization: `Bearer ${await stack.tokens.subject(`other-${randomUUID()}`)}` };
    expect(remaining(await post(second.graphqlUrl, TYPENAME, other))).toBe(9);
  });

  it('stores hashed keys: no subject, client id or address in clear', async () => {
    const name = `hashed-${randomUUID()}`;
    expect((await post(stack.running.gateway.graphqlUrl, TYPENAME, { authorization: `Bearer ${await stack.tokens.subject(name)}` })).status).toBe(200);
    let keys: string[];
    if (store === 'postgres') {
      keys = (await stack.sql<{ key: string }>(`SELECT key FROM "${stack.schema('gateway')}".rate_limits`)).map((row) => row.key);
    } else {
      const redis = new Redis('redis://127.0.0.1:6379');
      try {
        keys = await redis.keys('privgraph:rl*');
      } finally {
        redis.disconnect();
      }
    }
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((key) => key.startsWith('rl:subject:') || key.startsWith('privgraph:rl:subject:'))).toBe(true);
    expect(keys.some((key) => key.includes(name) || key.includes('127.0.0.1'))).toBe(false);
  });
});

describe('rate limits when the shared store is down', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // Nothing listens on port 1: every store call fails, as with Redis stopped.
    stack = await startTestStack({ env: { RATE_LIMIT_STORE: 'redis', RATE_LIMIT_REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_POINTS: '5', RATE_LIMIT_WINDOW_SECONDS: '3600' } });
  });
  afterAll(() => stack?.stop());

  it('keeps limiting on each replica with the in-memory insurance limiter', async () => {
    const token = await stack.tokens.subject(`down-${randomUUID()}`);
    const first = await stack.gql(TYPENAME, {}, { token });
    expectNoErrors(first);
    expect(remaining(first)).toBe(4);
    expect(await spend(() => stack.gql(TYPENAME, {}, { token }), 5)).toBe(4);
    expect(codes(await stack.gql(TYPENAME, {}, { token }))).toEqual(['RATE_LIMITED']);
  });
});
