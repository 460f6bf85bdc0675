import { SignJWT } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER, generateDevIssuerKey, mintDevToken } from '../shared/auth/dev-issuer';
import { SERVICE_NAMES } from '../shared/config';
import { AUDIT_INGEST_PATH } from '../shared/audit/events';
import { CONSENT_ACTIVE_PATH } from '../shared/consent-client';
import { DIRECTORY_PATHS } from '../shared/directory-client';
import { INTERNAL_TOKEN_HEADER } from '../shared/internal-api';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, grantConsent, PROFILE, type Subject } from './kit/scenario';

/** Invariant 3: every subgraph verifies the caller itself, so a direct call is as guarded as one through the gateway. */
describe('authentication and direct subgraph access', () => {
  let stack: TestStack;
  let shop: string;
  let alice: Subject;
  let aliceId: string;

  beforeAll(async () => {
    stack = await startTestStack();
    shop = await createTenant(stack, 'Acme Shop');
    alice = await createSubject(stack, 'alice', PROFILE, [shop]);
    await grantConsent(stack, alice, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT'] });
    // The internal id is never exposed by the API; an attacker would have to guess it. Tests read it from the store.
    const [row] = await stack.sql<{ id: string }>(`SELECT id FROM "${stack.schemas.identity}".subject WHERE sub = 'alice'`);
    aliceId = row.id;
  });
  afterAll(() => stack?.stop());

  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

  async function badTokens(): Promise<Record<string, string>> {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'alice', client_id: 'privgraph-dev-app', scope: 'openid' };
    const other = await generateDevIssuerKey();
    const valid = await stack.tokens.subject('alice');
    const [header] = valid.split('.');
    return {
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims, iss: DEV_ISSUER, aud: DEV_AUDIENCE, exp: now + 600 })}.`,
      'wrong issuer': await mintDevToken(stack.key, { sub: 'alice', issuer: 'https://evil.example/oidc' }),
      'wrong audience': await mintDevToken(stack.key, { sub: 'alice', audience: 'https://api.someone-else.example' }),
      expired: await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES384', kid: stack.key.kid, typ: 'at+jwt' })
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(stack.key.privateKey),
      'bad signature': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES384', kid: stack.key.kid, typ: 'at+jwt' })
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setExpirationTime(now + 600)
        .sign(other.privateKey),
      'tampered payload': `${header}.${b64({ ...claims, sub: 'mallory', iss: DEV_ISSUER, aud: DEV_AUDIENCE, exp: now + 600 })}.${valid.split('.')[2]}`,
      'HS256 (algorithm confusion)': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setExpirationTime(now + 600)
        .sign(new TextEncoder().encode(JSON.stringify(stack.key.jwks))),
      'not a JWT': 'definitely-not-a-token',
    };
  }

  test.each(['gateway', ...SERVICE_NAMES] as const)('invalid tokens are UNAUTHENTICATED at the %s', async (target) => {
    const query = target === 'pii' || target === 'consent' ? '{ _service { sdl } }' : target === 'audit' ? '{ auditEvents { edges { cursor } } }' : '{ me { status } }';
    for (const [name, token] of Object.entries(await badTokens())) {
      const response = await stack.gql(query, {}, { token, service: target === 'gateway' ? undefined : target });
      expect({ name, status: response.status, codes: codes(response) }).toEqual({ name, status: 401, codes: ['UNAUTHENTICATED'] });
      expect(response.data ?? null).toBeNull();
    }
  });

  test('a malformed Authorization header is UNAUTHENTICATED', async () => {
    const response = await stack.gql('{ me { status } }', {}, { headers: { authorization: 'Basic abc' } });
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });

  const ENTITIES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email phone nationalId } } }';
  const representation = () => ({ r: [{ __typename: 'User', id: aliceId }] });

  test('_entities on the pii subgraph without a token releases nothing', async () => {
    const response = await stack.gql(ENTITIES, representation(), { service: 'pii' });
    expect(response.data?._entities).toEqual([{ email: null, phone: null, nationalId: null }]);
    expect(new Set(codes(response))).toEqual(new Set(['UNAUTHENTICATED']));
  });

  test('_entities on the pii subgraph as another tenant or another subject releases nothing', async () => {
    const otherShop = await createTenant(stack, 'Other Shop');
    const tenantToken = await stack.tokens.tenant(otherShop, ['pii:contact:read', 'pii:government_id:read']);
    const asTenant = await stack.gql(ENTITIES, representation(), { service: 'pii', token: tenantToken, purpose: 'order_fulfillment' });
    expect(asTenant.data?._entities).toEqual([{ email: null, phone: null, nationalId: null }]);
    expect(new Set(codes(asTenant))).toEqual(new Set(['CONSENT_REQUIRED']));

    const mallory = await stack.tokens.subject('mallory');
    const asSubject = await stack.gql(ENTITIES, representation(), { service: 'pii', token: mallory });
    expect(asSubject.data?._entities).toEqual([{ email: null, phone: null, nationalId: null }]);
    expect(new Set(codes(asSubject))).toEqual(new Set(['FORBIDDEN']));
  });

  test('_entities on the pii subgraph with consent, scope and purpose is allowed exactly as through the gateway', async () => {
    const token = await stack.tokens.tenant(shop, ['pii:contact:read']);
    const response = await stack.gql(ENTITIES, representation(), { service: 'pii', token, purpose: 'order_fulfillment' });
    expect(response.data?._entities).toEqual([{ email: 'alice@example.com', phone: '+49301234567', nationalId: null }]);
    expect(codes(response)).toEqual(['SCOPE_REQUIRED']);
  });

  test('_entities on the identity subgraph hides users not linked to the calling tenant', async () => {
    const stranger = await createTenant(stack, 'Stranger Shop');
    const query = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { ref status } } }';
    const response = await stack.gql(query, representation(), { service: 'identity', token: await stack.tokens.tenant(stranger) });
    expect(response.data?._entities).toEqual([null]);
    const linked = await stack.gql(query, representation(), { service: 'identity', token: await stack.tokens.tenant(shop) });
    expect(linked.data?._entities).toEqual([{ ref: alice.refs[shop], status: 'ACTIVE' }]);
  });

  test('internal endpoints refuse calls without the internal token', async () => {
    const endpoints = [
      `${stack.running.subgraphs.identity.url}${DIRECTORY_PATHS.resolveSubject}`,
      `${stack.running.subgraphs.consent.url}${CONSENT_ACTIVE_PATH}`,
      `${stack.running.subgraphs.audit.url}${AUDIT_INGEST_PATH}`,
    ];
    for (const url of endpoints) {
      const anonymous = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(anonymous.status).toBe(401);
      const wrong = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: 'x'.repeat(43) },
        body: '{}',
      });
      expect(wrong.status).toBe(401);
    }
  });

  test('malformed and oversized requests get a coded error without stack traces or internals', async () => {
    const response = await fetch(stack.running.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": "{ me { status }',
    });
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).toContain('BAD_REQUEST');
    expect(text).not.toMatch(/stacktrace|at .*\.ts:\d+|node_modules/);

    const huge = await stack.gql(`{ ${Array.from({ length: 60 }, (_, i) => `a${i}: me { status }`).join(' ')} }`, {}, { token: alice.token });
    expect(codes(huge)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });
});
