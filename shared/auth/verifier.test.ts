import fc from 'fast-check';
import { GraphQLError } from 'graphql';
import { SignJWT, type JWTHeaderParameters } from 'jose';
import { DEV_ALGORITHM, DEV_AUDIENCE, DEV_ISSUER, generateDevIssuerKey, type DevIssuerKey } from './dev-issuer';
import { createTokenVerifier, type AuthSettings, type TokenVerifier } from './verifier';

const TOLERANCE = 5;
let key: DevIssuerKey;
let verifier: TokenVerifier;
const settings = (overrides: Partial<AuthSettings> = {}): AuthSettings => ({
  issuer: DEV_ISSUER,
  audience: DEV_AUDIENCE,
  algorithms: [DEV_ALGORITHM],
  jwks: { kind: 'local', jwks: key.jwks },
  tenantClaim: 'organization_id',
  scopeClaim: 'scope',
  clockToleranceSec: TOLERANCE,
  ...overrides,
});

beforeAll(async () => {
  key = await generateDevIssuerKey();
  verifier = createTokenVerifier(settings());
});

const now = () => Math.floor(Date.now() / 1000);
const validClaims = (): Record<string, unknown> => ({
  iss: DEV_ISSUER,
  aud: DEV_AUDIENCE,
  sub: 'user-1',
  client_id: 'app-1',
  organization_id: 'org-1',
  scope: 'openid pii:contact:read',
  iat: now(),
  nbf: now(),
  exp: now() + 600,
});
const sign = (payload: Record<string, unknown>, header: Record<string, unknown> = { typ: 'at+jwt' }) =>
  new SignJWT(payload).setProtectedHeader({ alg: DEV_ALGORITHM, kid: key.kid, ...header } as JWTHeaderParameters).sign(key.privateKey);

/** The verifier's only answer to a bad token: UNAUTHENTICATED (never a crash, never another code). */
async function refusal(v: TokenVerifier, token: string): Promise<string> {
  try {
    await v.verify(token);
    return 'ACCEPTED';
  } catch (error) {
    return error instanceof GraphQLError ? String(error.extensions.code) : `THREW ${(error as Error)?.name}`;
  }
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const notA = (type: 'string' | 'number') => fc.anything().filter((v) => typeof v !== type && v !== undefined);
const notStringArray = fc.anything().filter((v) => v !== undefined && typeof v !== 'string' && !(Array.isArray(v) && v.every((m) => typeof m === 'string')));
const badName = fc.oneof(notA('string'), fc.constant(''), fc.string({ minLength: 1025, maxLength: 1100 }), fc.constantFrom('a\u0000b', '\u0000'));

/** For each claim: values no conforming access token carries (wrong JSON type, wrong value, out of time). */
const BAD_CLAIMS: Record<string, fc.Arbitrary<unknown>> = {
  sub: badName,
  iss: fc.anything().filter((v) => v !== undefined && v !== DEV_ISSUER),
  aud: fc.anything().filter((v) => v !== undefined && v !== DEV_AUDIENCE && !(Array.isArray(v) && v.includes(DEV_AUDIENCE) && v.every((m) => typeof m === 'string'))),
  exp: fc.oneof(notA('number'), fc.integer({ min: 0, max: now() - TOLERANCE - 2 })),
  iat: fc.oneof(notA('number'), fc.integer({ min: now() + TOLERANCE + 60, max: 2 ** 40 })),
  nbf: fc.oneof(notA('number'), fc.integer({ min: now() + TOLERANCE + 60, max: 2 ** 40 })),
  scope: notStringArray,
  client_id: badName,
  organization_id: badName,
};
const REQUIRED = ['sub', 'exp', 'iss', 'aud'];
const badTyp = fc.oneof(
  fc.string().filter((s) => s.toLowerCase().replace(/^application\//, '') !== 'at+jwt'),
  fc.constantFrom(undefined, 'JWT', 'jwt', 'id_token+jwt', 'application/jwt', 'at+jwt ', 'at-jwt'),
);

describe('the token verifier accepts no mutation of a valid token (RFC 8725, RFC 9068)', () => {
  test('the unmutated token is accepted', async () => {
    const verified = await verifier.verify(await sign(validClaims()));
    expect(verified).toMatchObject({ sub: 'user-1', clientId: 'app-1', organizationId: 'org-1', issuer: DEV_ISSUER });
    expect([...verified.scopes]).toEqual(['openid', 'pii:contact:read']);
    expect(await refusal(verifier, await sign(validClaims(), { typ: 'application/at+jwt' }))).toBe('ACCEPTED');
  });

  test('a claim set to a wrong type or value, re-signed with the real key, is refused', async () => {
    const claim = fc.constantFrom(...Object.keys(BAD_CLAIMS)).chain((name) => BAD_CLAIMS[name].map((value) => ({ name, value })));
    await fc.assert(
      fc.asyncProperty(claim, async ({ name, value }) => {
        const token = await sign({ ...validClaims(), [name]: value });
        expect(await refusal(verifier, token)).toBe('UNAUTHENTICATED');
      }),
      { numRuns: 300 },
    );
  });

  test('a required claim removed, re-signed, is refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.subarray(REQUIRED, { minLength: 1 }), async (removed) => {
        const claims = validClaims();
        for (const name of removed) delete claims[name];
        expect(await refusal(verifier, await sign(claims))).toBe('UNAUTHENTICATED');
      }),
      { numRuns: 30 },
    );
  });

  test('a header with any typ but at+jwt, re-signed, is refused', async () => {
    await fc.assert(
      fc.asyncProperty(badTyp, async (typ) => {
        const header = typ === undefined ? {} : { typ };
        expect(await refusal(verifier, await sign(validClaims(), header))).toBe('UNAUTHENTICATED');
      }),
      { numRuns: 200 },
    );
  });

  test('a flipped signature bit is refused', async () => {
    const token = await sign(validClaims());
    const [header, payload, signature] = token.split('.');
    const bytes = Buffer.from(signature, 'base64url');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), async (bit) => {
        const flipped = Buffer.from(bytes);
        flipped[bit >> 3] ^= 1 << (bit & 7);
        expect(await refusal(verifier, `${header}.${payload}.${flipped.toString('base64url')}`)).toBe('UNAUTHENTICATED');
      }),
      { numRuns: 200 },
    );
  });

  test('a changed payload or header under the original signature is refused', async () => {
    const claims = validClaims();
    const token = await sign(claims);
    const [header, payload, signature] = token.split('.');
    const protectedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
    const change = fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.jsonValue());
    await fc.assert(
      fc.asyncProperty(fc.boolean(), change, async (inHeader, [name, value]) => {
        const mutated = inHeader ? { ...protectedHeader, [name]: value } : { ...claims, [name]: value };
        const segment = b64(mutated);
        fc.pre(segment !== (inHeader ? header : payload));
        const forged = inHeader ? `${segment}.${payload}.${signature}` : `${header}.${segment}.${signature}`;
        expect(await refusal(verifier, forged)).toBe('UNAUTHENTICATED');
      }),
      { numRuns: 300 },
    );
  });

  test('a token issued within the clock tolerance is accepted; beyond it, refused', async () => {
    expect(await refusal(verifier, await sign({ ...validClaims(), iat: now() + TOLERANCE - 1 }))).toBe('ACCEPTED');
    expect(await refusal(verifier, await sign({ ...validClaims(), iat: now() + TOLERANCE + 30 }))).toBe('UNAUTHENTICATED');
  });

  test('the relaxed setting accepts a missing typ or JWT, and still refuses other types', async () => {
    const relaxed = createTokenVerifier(settings({ requireAtJwt: false }));
    expect(await refusal(relaxed, await sign(validClaims(), {}))).toBe('ACCEPTED');
    expect(await refusal(relaxed, await sign(validClaims(), { typ: 'JWT' }))).toBe('ACCEPTED');
    expect(await refusal(relaxed, await sign(validClaims(), { typ: 'id_token+jwt' }))).toBe('UNAUTHENTICATED');
    expect(await refusal(relaxed, await sign({ ...validClaims(), sub: 98765 }))).toBe('UNAUTHENTICATED');
    expect(await refusal(verifier, await sign(validClaims(), {}))).toBe('UNAUTHENTICATED');
  });
});
