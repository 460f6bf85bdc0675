import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, type JWTHeaderParameters } from 'jose';
import { DEV_ALGORITHM, DEV_APP_CLIENT_ID, DEV_AUDIENCE, DEV_ISSUER, generateDevIssuerKey, type DevIssuerKey } from '../shared/auth/dev-issuer';
import { startTestStack, type GqlResponse, type TestStack } from './kit/stack';
import { codes } from './kit/scenario';

/**
 * Access tokens are checked by RFC 9068 / RFC 8725 on every port: header type, claim presence and
 * JSON types, issue time; each refusal is a 401 with an RFC 6750 challenge, never a 5xx (docs/security.md).
 */
const TARGETS = ['gateway', 'identity', 'audit'] as const;
type Target = (typeof TARGETS)[number];
const QUERY: Record<Target, string> = { gateway: '{ me { status } }', identity: '{ me { status } }', audit: '{ auditEvents { edges { cursor } } }' };

async function sign(key: DevIssuerKey, payload: Record<string, unknown>, header: Partial<JWTHeaderParameters> = { typ: 'at+jwt' }): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: DEV_ALGORITHM, kid: key.kid, ...header }).sign(key.privateKey);
}

function validClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: DEV_ISSUER,
    aud: DEV_AUDIENCE,
    sub: 'token-tester',
    client_id: DEV_APP_CLIENT_ID,
    scope: 'openid profile',
    iat: now,
    exp: now + 600,
    ...overrides,
  };
  for (const [name, value] of Object.entries(overrides)) if (value === undefined) delete claims[name];
  return claims;
}

function expectRefused(response: GqlResponse, name: string) {
  expect({ name, status: response.status, codes: codes(response) }).toEqual({ name, status: 401, codes: ['UNAUTHENTICATED'] });
  expect(response.data ?? null).toBeNull();
  expect({ name, challenge: response.headers.get('www-authenticate') }).toEqual({ name, challenge: expect.stringMatching(/^Bearer error="invalid_token", error_description="[^"]+"$/) });
}

describe('access tokens by the book (RFC 9068, RFC 8725, RFC 6750)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  async function malformedTokens(): Promise<Record<string, string>> {
    const key = stack.key;
    const now = Math.floor(Date.now() / 1000);
    return {
      'typ JWT': await sign(key, validClaims(), { typ: 'JWT' }),
      'no typ': await sign(key, validClaims(), {}),
      'typ id_token+jwt': await sign(key, validClaims(), { typ: 'id_token+jwt' }),
      // An ID token from the same issuer, shaped as OIDC issues it, even with the API's audience.
      'id token': await sign(key, validClaims({ nonce: 'n-0S6_WzA2Mj', at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q', auth_time: now - 5, client_id: undefined }), { typ: 'JWT' }),
      'iat in the future': await sign(key, validClaims({ iat: now + 3600, exp: now + 7200 })),
      'numeric sub': await sign(key, validClaims({ sub: 98765 })),
      'null sub': await sign(key, validClaims({ sub: null })),
      'array sub': await sign(key, validClaims({ sub: ['token-tester'] })),
      'empty sub': await sign(key, validClaims({ sub: '' })),
      'sub with NUL': await sign(key, validClaims({ sub: 'a\u0000b' })),
      'missing sub': await sign(key, validClaims({ sub: undefined })),
      'missing exp': await sign(key, validClaims({ exp: undefined })),
      'string exp': await sign(key, validClaims({ exp: String(now + 600) })),
      'missing iss': await sign(key, validClaims({ iss: undefined })),
      'missing aud': await sign(key, validClaims({ aud: undefined })),
      'numeric aud': await sign(key, validClaims({ aud: 5 })),
      'aud array with a number': await sign(key, validClaims({ aud: [DEV_AUDIENCE, 5] })),
      'numeric scope': await sign(key, validClaims({ scope: 5 })),
      'numeric client_id': await sign(key, validClaims({ client_id: 5 })),
      'numeric organization': await sign(key, validClaims({ organization_id: 12 })),
      'null organization': await sign(key, validClaims({ organization_id: null })),
    };
  }

  test.each(TARGETS)('malformed tokens are 401 UNAUTHENTICATED with a Bearer challenge at the %s', async (target) => {
    const service = target === 'gateway' ? undefined : target;
    for (const [name, token] of Object.entries(await malformedTokens())) {
      expectRefused(await stack.gql(QUERY[target], {}, { token, service }), name);
    }
  });

  test('the refusal message names the claim, never its value', async () => {
    const response = await stack.gql(QUERY.gateway, {}, { token: await sign(stack.key, validClaims({ sub: 98765 })) });
    expect(response.errors?.[0]?.message).toBe("The access token's sub claim is missing or malformed");
    expect(JSON.stringify(response.errors)).not.toContain('98765');
    const typ = await stack.gql(QUERY.gateway, {}, { token: await sign(stack.key, validClaims(), { typ: 'JWT' }) });
    expect(typ.errors?.[0]?.message).toMatch(/at\+jwt/);
  });

  test('a numeric sub never becomes a subject, not even the one its string form names', async () => {
    const asString = await stack.gql(QUERY.identity, {}, { token: await sign(stack.key, validClaims({ sub: '98765' })), service: 'identity' });
    expect(asString.status).toBe(200);
    expect(asString.data?.me).toEqual({ status: 'ACTIVE' });
    for (const target of TARGETS) {
      const asNumber = await stack.gql(QUERY[target], {}, { token: await sign(stack.key, validClaims({ sub: 98765 })), service: target === 'gateway' ? undefined : target });
      expectRefused(asNumber, `numeric sub at ${target}`);
    }
    const rows = await stack.sql<{ n: string }>(`SELECT count(*) AS n FROM "${stack.schemas.identity}".subject WHERE sub LIKE '%98765%'`);
    expect(Number(rows[0].n)).toBe(1);
  });

  test('a well-formed token passes, with typ at+jwt in either spelling', async () => {
    for (const typ of ['at+jwt', 'application/at+jwt', 'AT+JWT']) {
      const response = await stack.gql(QUERY.gateway, {}, { token: await sign(stack.key, validClaims({ sub: `typ-${typ.length}` }), { typ }) });
      expect({ typ, status: response.status, me: response.data?.me }).toEqual({ typ, status: 200, me: { status: 'ACTIVE' } });
      expect(response.headers.get('www-authenticate')).toBeNull();
    }
  });

  test('a malformed Authorization header and a garbage token carry the challenge too', async () => {
    for (const target of TARGETS) {
      const service = target === 'gateway' ? undefined : target;
      expectRefused(await stack.gql(QUERY[target], {}, { headers: { authorization: 'Basic abc' }, service }), `Basic at ${target}`);
      expectRefused(await stack.gql(QUERY[target], {}, { token: 'not-a-jwt', service }), `garbage at ${target}`);
    }
  });

  test.each(TARGETS)('an organization no tenant answers to is 403 FORBIDDEN at the %s', async (target) => {
    const token = await stack.tokens.tenant('org-never-registered', ['pii:contact:read']);
    const service = target === 'gateway' ? undefined : target;
    const response = await stack.gql(QUERY[target], {}, { token, service });
    expect({ status: response.status, codes: codes(response) }).toEqual({ status: 403, codes: ['FORBIDDEN'] });
    expect(response.data ?? null).toBeNull();
    // A subgraph-only document at the gateway is refused the same way.
    if (target === 'gateway') {
      const typename = await stack.gql('{ __typename }', {}, { token });
      expect({ status: typename.status, codes: codes(typename) }).toEqual({ status: 403, codes: ['FORBIDDEN'] });
    }
  });

  test.each([
    ['gateway', '/audit/export?format=jsonl'],
    ['audit', '/export?format=jsonl'],
    ['gateway', '/privacy/export/some-link'],
    ['identity', '/privacy/export/some-link'],
  ] as const)('the download route at the %s %s answers 401 with a challenge too', async (target, path) => {
    const base = target === 'gateway' ? stack.running.gateway.url : stack.running.subgraphs[target].url;
    const anonymous = await fetch(`${base}${path}`);
    expect({ status: anonymous.status, challenge: anonymous.headers.get('www-authenticate') }).toEqual({ status: 401, challenge: 'Bearer' });
    const token = await sign(stack.key, validClaims(), { typ: 'JWT' });
    const refused = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"$/);
  });
});

describe('an identity provider whose keys cannot be fetched', () => {
  let stack: TestStack;
  let key: DevIssuerKey;
  const ISSUER = 'https://idp.example.test/oidc';
  const AUDIENCE = 'https://api.example.test';
  beforeAll(async () => {
    // A port that was just free: nothing listens there, so every JWKS fetch is refused.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    key = await generateDevIssuerKey();
    stack = await startTestStack({ env: { AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks` } });
  });
  afterAll(() => stack?.stop());

  test.each(TARGETS)('is 503 DEPENDENCY_UNAVAILABLE at the %s, not an invalid token', async (target) => {
    const token = await sign(key, validClaims({ iss: ISSUER, aud: AUDIENCE }));
    const response = await stack.gql(QUERY[target], {}, { token, service: target === 'gateway' ? undefined : target });
    expect({ status: response.status, codes: codes(response) }).toEqual({ status: 503, codes: ['DEPENDENCY_UNAVAILABLE'] });
    expect(response.errors?.[0]?.message).toMatch(/issuer's keys could not be fetched/);
    expect(response.data ?? null).toBeNull();
  });
});
