import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSchema, getIntrospectionQuery } from 'graphql';
import { generateDevIssuerKey, loadOrCreateDevIssuerKey, mintDevToken, type DevIssuerKey } from '../shared/auth/dev-issuer';
import { componentLogger } from '../shared/logger';
import { startGraphqlService, type RunningService } from '../shared/server/graphql-service';
import { startGateway } from '../gateway/src/app';
import { loadGatewayConfig } from '../gateway/src/config';

/**
 * The sandbox page and the production introspection guard over HTTP, on the gateway alone: neither
 * needs a subgraph (the page is static, introspection is answered from the composed schema).
 */
const INTERNAL_API_TOKEN = 'sandbox-test-internal-token-of-32-characters';
const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

async function startGatewayWith(env: Record<string, string>): Promise<RunningService> {
  return startGateway(loadGatewayConfig({ INTERNAL_API_TOKEN, HOST: '127.0.0.1', PORT: '0', ...env }));
}

/** Every absolute http(s) URL in a text, except XML namespaces (identifiers, never fetched). */
function absoluteUrls(text: string): string[] {
  return [...text.matchAll(/https?:\/\/[^\s"'<>)]+/g)].map((m) => m[0]).filter((url) => !url.startsWith('http://www.w3.org/'));
}

async function post(url: string, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] } };
}

describe('sandbox outside production (the default)', () => {
  let gateway: RunningService;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'privgraph-sandbox-'));
    await loadOrCreateDevIssuerKey(dataDir);
    gateway = await startGatewayWith({ NODE_ENV: 'test', PRIVGRAPH_DATA_DIR: dataDir });
  });
  afterAll(async () => {
    await gateway?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a browser opening /graphql or /sandbox gets the IDE page under a strict CSP, with nothing from another host', async () => {
    for (const path of ['/graphql', '/sandbox']) {
      const response = await fetch(`${gateway.url}${path}`, { headers: BROWSER });
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe-(inline|eval)|https?:|\*/);
      const html = await response.text();
      expect(html).toContain('id="pg-token"');
      expect(html).toContain('id="pg-purpose"');
      expect(absoluteUrls(html)).toEqual([]);
      expect(html).not.toMatch(/src="\/\/|href="\/\//); // no protocol-relative URLs either
      expect(html).not.toMatch(/<script>(?!<\/script>)|<style>| style="|on(click|load)=/); // nothing inline: CSP forbids it
    }
  });

  test('with a trailing slash the page redirects to its address without one (its files are loaded by relative URLs)', async () => {
    for (const [path, target] of [['/sandbox/', '../sandbox'], ['/graphql/', '../graphql']]) {
      const response = await fetch(`${gateway.url}${path}`, { headers: BROWSER, redirect: 'manual' });
      expect({ path, status: response.status, location: response.headers.get('location') }).toEqual({ path, status: 301, location: target });
      expect(new URL(target, `${gateway.url}${path}`).pathname).toBe(path.slice(0, -1));
      await response.arrayBuffer();
    }
  });

  test("the page's scripts and styles are served by the gateway itself, and name no other host", async () => {
    const html = await (await fetch(`${gateway.url}/sandbox`, { headers: BROWSER })).text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(assets).toEqual(expect.arrayContaining(['sandbox/assets/graphiql.min.js', 'sandbox/assets/react.production.min.js', 'sandbox/assets/react-dom.production.min.js', 'sandbox/assets/graphiql.min.css', 'sandbox/assets/sandbox.js', 'sandbox/assets/sandbox.css']));
    for (const asset of assets) {
      const response = await fetch(new URL(asset, `${gateway.url}/sandbox`));
      expect({ asset, status: response.status }).toEqual({ asset, status: 200 });
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      const body = await response.text();
      if (asset.endsWith('.css')) {
        expect({ asset, imports: body.match(/@import[^;]*;/g) ?? [] }).toEqual({ asset, imports: [] });
        // Fonts and images only as data: URLs or from this gateway.
        const remote = [...body.matchAll(/url\(\s*['"]?([^'")]+)/g)].map((m) => m[1]).filter((u) => !u.startsWith('data:'));
        expect({ asset, remote }).toEqual({ asset, remote: [] });
      }
      if (asset.startsWith('sandbox/assets/sandbox.')) expect({ asset, urls: absoluteUrls(body) }).toEqual({ asset, urls: [] });
    }
    expect((await fetch(`${gateway.url}/sandbox/assets/package.json`)).status).toBe(404);
    expect((await fetch(`${gateway.url}/sandbox/assets/..%2Fsandbox.ts`)).status).toBe(404);
  });

  test('GraphQL clients on /graphql are unaffected: a JSON GET or POST reaches the API', async () => {
    const get = await fetch(`${gateway.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { ...BROWSER, 'apollo-require-preflight': 'true' } });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ data: { __typename: 'Query' } });
    const posted = await post(`${gateway.url}/graphql`, { query: '{ __typename }' });
    expect(posted.body).toEqual({ data: { __typename: 'Query' } });
  });

  test('an operation name matching no operation (as GraphiQL sends right after a rename) is a 400 OPERATION_RESOLUTION_FAILURE, not a 500', async () => {
    for (const body of [{ query: 'query Tenants { __typename }', operationName: 'Renamed' }, { query: 'query A { __typename } query B { __typename }' }]) {
      const response = await post(`${gateway.url}/graphql`, body);
      expect({ status: response.status, codes: response.body.errors?.map((e) => e.extensions?.code) }).toEqual({ status: 400, codes: ['OPERATION_RESOLUTION_FAILURE'] });
    }
    const named = await post(`${gateway.url}/graphql`, { query: 'query A { __typename } query B { __typename }', operationName: 'B' });
    expect(named.body).toEqual({ data: { __typename: 'Query' } });
  });

  test('introspection is open outside production', async () => {
    const introspection = await post(`${gateway.url}/graphql`, { query: getIntrospectionQuery() });
    expect(introspection.status).toBe(200);
    expect(introspection.body.data.__schema.queryType.name).toBe('Query');
  });
});

describe('production', () => {
  const ISSUER = 'https://idp.example.test/oidc';
  const AUDIENCE = 'https://api.example.test';
  let key: DevIssuerKey;
  let jwksServer: Server;
  let env: Record<string, string>;
  let gateway: RunningService;
  const token = (claims: { sub: string; scopes?: string[]; organizationId?: string; clientId?: string }) =>
    mintDevToken(key, { ...claims, issuer: ISSUER, audience: AUDIENCE });

  beforeAll(async () => {
    key = await generateDevIssuerKey();
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(key.jwks)));
    jwksServer.listen(0, '127.0.0.1');
    await new Promise((resolve) => jwksServer.once('listening', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
    env = { NODE_ENV: 'production', AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, AUTH_JWKS_URL: jwksUrl };
    gateway = await startGatewayWith(env);
  });
  afterAll(async () => {
    await gateway?.stop();
    jwksServer?.close();
  });

  test('the sandbox is off by default: /sandbox and its assets answer 404, and /graphql shows no page', async () => {
    expect((await fetch(`${gateway.url}/sandbox`, { headers: BROWSER })).status).toBe(404);
    expect((await fetch(`${gateway.url}/sandbox/assets/graphiql.min.js`)).status).toBe(404);
    const page = await fetch(`${gateway.url}/graphql`, { headers: BROWSER });
    expect(await page.text()).not.toContain('pg-token');
  });

  test('SANDBOX_ENABLED=true serves it in production too', async () => {
    const enabled = await startGatewayWith({ ...env, SANDBOX_ENABLED: 'true' });
    try {
      const response = await fetch(`${enabled.url}/graphql`, { headers: BROWSER });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('id="pg-token"');
      const script = await fetch(`${enabled.url}/sandbox/assets/graphiql.min.js`);
      expect(script.status).toBe(200);
      await script.arrayBuffer();
    } finally {
      await enabled.stop();
    }
  });

  test('introspection is refused with FORBIDDEN without a token, to a subject, a tenant admin and a tenant token with platform:admin', async () => {
    const refusedTokens = [
      undefined,
      await token({ sub: 'alice' }),
      await token({ sub: 'shop-backend', clientId: 'shop-backend', organizationId: 'org-1', scopes: ['tenant:admin'] }),
      await token({ sub: 'shop-backend', clientId: 'shop-backend', organizationId: 'org-1', scopes: ['platform:admin'] }),
    ];
    for (const [index, bearer] of refusedTokens.entries()) {
      for (const query of [getIntrospectionQuery(), '{ __type(name: "User") { fields { name } } }', 'query { ...F } fragment F on Query { __schema { types { name } } }']) {
        const response = await post(`${gateway.url}/graphql`, { query }, bearer);
        expect({ index, status: response.status, codes: response.body.errors?.map((e) => e.extensions?.code), data: response.body.data ?? null }).toEqual({
          index,
          status: 403,
          codes: ['FORBIDDEN'],
          data: null,
        });
      }
    }
  });

  test('a platform admin token introspects; __typename needs no admin', async () => {
    const admin = await token({ sub: 'ops', clientId: 'ops', scopes: ['platform:admin'] });
    const response = await post(`${gateway.url}/graphql`, { query: getIntrospectionQuery() }, admin);
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    const types = (response.body.data.__schema.types as { name: string }[]).map((t) => t.name);
    expect(types).toEqual(expect.arrayContaining(['Query', 'Mutation', 'User']));
    expect(types).not.toContain('_Entity'); // the public API schema, not a subgraph's
    const typename = await post(`${gateway.url}/graphql`, { query: '{ __typename }' });
    expect(typename.body).toEqual({ data: { __typename: 'Query' } });
  });

  test('an invalid token is UNAUTHENTICATED before introspection is considered', async () => {
    const response = await post(`${gateway.url}/graphql`, { query: getIntrospectionQuery() }, 'not.a.token');
    expect(response.status).toBe(401);
    expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });

  test("services started in production without the gateway's guard keep introspection off (as every subgraph does)", async () => {
    const service = await startGraphqlService({
      name: 'probe',
      http: { host: '127.0.0.1', port: 0, bodyLimit: '100kb' },
      logger: componentLogger('probe'),
      production: true,
      schema: buildSchema('type Query { ok: Boolean }'),
      context: async () => ({}),
      ready: async () => true,
    });
    try {
      const response = await post(service.graphqlUrl, { query: getIntrospectionQuery() });
      expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(response.body.data).toBeUndefined();
    } finally {
      await service.stop();
    }
  });
});
