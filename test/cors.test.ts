import http from 'node:http';
import { loadGatewayConfig } from '../gateway/src/config';
import { ConfigError } from '../shared/config';
import { checkOrigin } from '../shared/tenant-policy-client';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createTenant, expectNoErrors } from './kit/scenario';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP request: browsers' `Origin` and preflight headers, which fetch would not let a test set freely. */
function request(url: string, options: { method: string; headers?: Record<string, string>; body?: string }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const vary = (response: RawResponse) => String(response.headers.vary ?? '').toLowerCase().split(/\s*,\s*/);

describe('CORS origins: configuration and tenant settings', () => {
  const base = { NODE_ENV: 'test', LOGTO_ENDPOINT: 'https://auth.example.com/', AUTH_AUDIENCE: 'https://api.shop.example', INTERNAL_API_TOKEN: 'x'.repeat(40) };
  test('CORS_ORIGINS takes exact origins only: a wildcard, paths, trailing slashes, upper case, default ports and other schemes stop start-up', () => {
    expect(loadGatewayConfig({ ...base, CORS_ORIGINS: ' https://app.example , http://localhost:5173,https://app.example' }).cors).toEqual({
      origins: ['https://app.example', 'http://localhost:5173'],
      maxAgeSeconds: 600,
    });
    expect(loadGatewayConfig(base).cors.origins).toEqual([]);
    for (const bad of ['*', 'null', 'https://app.example/', 'https://app.example/path', 'https://App.Example', 'https://app.example:443', 'ftp://app.example', 'app.example', 'https://u:p@app.example']) {
      expect(() => loadGatewayConfig({ ...base, CORS_ORIGINS: bad })).toThrow(ConfigError);
    }
    expect(() => loadGatewayConfig({ ...base, CORS_MAX_AGE_SECONDS: '-1' })).toThrow(ConfigError);
  });

  test('in production only https origins are accepted', () => {
    expect(() => loadGatewayConfig({ ...base, NODE_ENV: 'production', CORS_ORIGINS: 'http://app.example' })).toThrow(/CORS_ORIGINS: entry 1 must use https in production/);
    expect(loadGatewayConfig({ ...base, NODE_ENV: 'production', CORS_ORIGINS: 'https://app.example' }).cors.origins).toEqual(['https://app.example']);
    expect(checkOrigin('https://app.example:8443', { production: true })).toEqual({ origin: 'https://app.example:8443' });
    expect(checkOrigin('http://app.example', { production: true })).toMatchObject({ refused: expect.any(String) });
    expect(checkOrigin('http://localhost:3000', { production: true })).toMatchObject({ refused: expect.any(String) });
    expect(checkOrigin('http://localhost:3000', { production: false })).toEqual({ origin: 'http://localhost:3000' });
  });
});

describe('CORS at the gateway', () => {
  let stack: TestStack;
  let graphql: string;
  let shop: string;
  let admin: string;
  const CONFIGURED = 'https://app.example';
  const TENANT_ORIGIN = 'https://frontend.shop.example';
  const FOREIGN = 'https://evil.example';
  const SET_ORIGINS = 'mutation($origins: [String!]!) { setAllowedOrigins(origins: $origins) { allowedOrigins } }';

  const preflight = (origin: string, path = '/graphql') =>
    request(`${stack.running.gateway.url}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-privacy-purpose,x-request-id',
      },
    });
  const post = async (origin: string | undefined, token?: string) =>
    request(graphql, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(origin ? { origin } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query: 'query { me { status } }' }),
    });

  beforeAll(async () => {
    stack = await startTestStack({ env: { CORS_ORIGINS: `${CONFIGURED},http://localhost:5173`, CORS_MAX_AGE_SECONDS: '600', TENANT_POLICY_CACHE_MS: '0' } });
    graphql = stack.running.gateway.graphqlUrl;
    shop = await createTenant(stack, 'Frontend Shop');
    admin = await stack.tokens.tenant(shop, ['tenant:admin']);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('a preflight from a configured origin is answered 204 with the origin, the methods, the headers a client sends and a max age; no credentials', async () => {
    const response = await preflight(CONFIGURED);
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe(CONFIGURED);
    expect(response.headers['access-control-allow-methods']).toBe('GET,POST,OPTIONS');
    const allowed = String(response.headers['access-control-allow-headers']).split(',');
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-privacy-purpose', 'x-request-id', 'apollo-require-preflight']));
    expect(response.headers['access-control-max-age']).toBe('600');
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    expect(vary(response)).toContain('origin');
  });

  test('the actual request from an allowed origin carries the origin and exposes x-request-id and the rate-limit fields', async () => {
    const subject = await stack.tokens.subject('cors-alice');
    const response = await post(CONFIGURED, subject);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { me: { status: 'ACTIVE' } } });
    expect(response.headers['access-control-allow-origin']).toBe(CONFIGURED);
    expect(response.headers['access-control-expose-headers']).toBe('x-request-id,retry-after,ratelimit-limit,ratelimit-remaining,ratelimit-reset');
    expect(response.headers['x-request-id']).toEqual(expect.any(String));
    expect(response.headers['ratelimit-remaining']).toEqual(expect.any(String));
    expect(vary(response)).toContain('origin');
    // The public downloads and keys answer browsers too.
    const jwks = await request(`${stack.running.gateway.url}/.well-known/jwks.json`, { method: 'GET', headers: { origin: CONFIGURED } });
    expect(jwks.status).toBe(200);
    expect(jwks.headers['access-control-allow-origin']).toBe(CONFIGURED);
  });

  test('a foreign origin gets no Access-Control-Allow-Origin: its preflight is a plain 204 the browser refuses, its request carries nothing', async () => {
    const response = await preflight(FOREIGN);
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    expect(response.headers['access-control-allow-methods']).toBeUndefined();
    expect(vary(response)).toContain('origin');
    const actual = await post(FOREIGN, await stack.tokens.subject('cors-alice'));
    expect(actual.headers['access-control-allow-origin']).toBeUndefined();
    expect(vary(actual)).toContain('origin');
    // Look-alikes are other origins.
    for (const lookalike of [`${CONFIGURED}.evil.example`, 'http://app.example', `${CONFIGURED}:8443`, 'null']) {
      expect([lookalike, (await preflight(lookalike)).headers['access-control-allow-origin']]).toEqual([lookalike, undefined]);
    }
    // Without an Origin (a server) nothing changes.
    const server = await post(undefined, await stack.tokens.subject('cors-alice'));
    expect(server.headers['access-control-allow-origin']).toBeUndefined();
    expect(JSON.parse(server.body)).toEqual({ data: { me: { status: 'ACTIVE' } } });
  });

  test("a tenant admin's origins are allowed at once, and no longer once removed; invalid origins are refused with the field; each change is audited", async () => {
    expect((await preflight(TENANT_ORIGIN)).headers['access-control-allow-origin']).toBeUndefined();
    const set = await stack.gql(SET_ORIGINS, { origins: [TENANT_ORIGIN, 'http://localhost:3000', TENANT_ORIGIN] }, { token: admin });
    expectNoErrors(set);
    expect(set.data!.setAllowedOrigins.allowedOrigins).toEqual([TENANT_ORIGIN, 'http://localhost:3000']);
    const allowed = await preflight(TENANT_ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(TENANT_ORIGIN);

    const invalid: [string[], string][] = [
      [['*'], 'origins.0'],
      [[TENANT_ORIGIN, 'https://shop.example/'], 'origins.1'],
      [['https://Shop.Example'], 'origins.0'],
      [['javascript:alert(1)'], 'origins.0'],
      [['https://shop.example/path?q=1'], 'origins.0'],
      [Array.from({ length: 21 }, (_, i) => `https://s${i}.example`), 'origins'],
    ];
    for (const [origins, field] of invalid) {
      const refused = await stack.gql(SET_ORIGINS, { origins }, { token: admin });
      expect([field, refused.errors?.[0]?.extensions]).toMatchObject([field, { code: 'BAD_USER_INPUT', field }]);
    }
    // Another tenant's admin cannot touch them; a token without tenant:admin neither.
    const other = await createTenant(stack, 'Other Frontend Shop');
    const otherAdmin = await stack.tokens.tenant(other, ['tenant:admin']);
    expect((await stack.gql('query { tenantSettings { allowedOrigins } }', {}, { token: otherAdmin })).data).toEqual({ tenantSettings: { allowedOrigins: [] } });
    expect(codes(await stack.gql(SET_ORIGINS, { origins: [] }, { token: await stack.tokens.tenant(shop, []) }))).toEqual(['SCOPE_REQUIRED']);
    expect((await preflight(TENANT_ORIGIN)).headers['access-control-allow-origin']).toBe(TENANT_ORIGIN);

    expectNoErrors(await stack.gql(SET_ORIGINS, { origins: [] }, { token: admin }));
    expect((await preflight(TENANT_ORIGIN)).headers['access-control-allow-origin']).toBeUndefined();
    const events = await stack.sql<{ field: string }>(
      `SELECT field FROM "${stack.schemas.audit}".audit_event WHERE action = 'TENANT_SETTINGS_SET' AND tenant_id = $1 ORDER BY seq`,
      [shop],
    );
    expect(events.map((e) => e.field)).toEqual(['AllowedOrigins.2', 'AllowedOrigins.0']);
  });

  test("Apollo's CSRF prevention stays on: a simple cross-site GET or text/plain POST without a preflight header is refused; with the header (after a preflight) it runs", async () => {
    const token = await stack.tokens.subject('cors-alice');
    const url = `${graphql}?query=${encodeURIComponent('query { me { status } }')}`;
    const simpleGet = await request(url, { method: 'GET', headers: { origin: FOREIGN, authorization: `Bearer ${token}` } });
    expect(simpleGet.status).toBe(400);
    expect(simpleGet.body).not.toContain('ACTIVE');
    const simplePost = await request(graphql, {
      method: 'POST',
      headers: { origin: FOREIGN, 'content-type': 'text/plain', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'query { me { status } }' }),
    });
    expect(simplePost.status).toBe(400);
    expect(simplePost.body).not.toContain('ACTIVE');
    const preflighted = await request(url, { method: 'GET', headers: { origin: CONFIGURED, authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' } });
    expect(preflighted.status).toBe(200);
    expect(JSON.parse(preflighted.body)).toEqual({ data: { me: { status: 'ACTIVE' } } });
    expect(preflighted.headers['access-control-allow-origin']).toBe(CONFIGURED);
  });
});
