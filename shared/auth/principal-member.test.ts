import { actorOf, resolvePrincipal, type Directory } from './principal';
import type { TokenVerifier, VerifiedToken } from './verifier';

const TENANT = '11111111-1111-4111-8111-111111111111';
const directory: Directory = {
  resolveSubject: async () => ({ subjectId: 'subject-1', status: 'ACTIVE' }),
  resolveTenant: async (org) => (org === 'org-1' ? { tenantId: TENANT } : null),
};
const tokenWith = (claims: Partial<VerifiedToken>): TokenVerifier => ({
  verify: async () => ({
    issuer: 'https://idp.example/oidc',
    sub: 'x',
    clientId: undefined,
    organizationId: 'org-1',
    scopes: new Set(['pii:contact:read']),
    emailVerified: null,
    phoneNumberVerified: null,
    ...claims,
  }),
});
const resolve = (claims: Partial<VerifiedToken>) => resolvePrincipal('Bearer a.b.c', tokenWith(claims), directory);

describe('tenant principals: the backend and its staff (RFC 9068 §2.2)', () => {
  test('a client-credentials token (sub = client_id) is the shop itself', async () => {
    const backend = await resolve({ sub: 'cms-app', clientId: 'cms-app' });
    expect(backend).toMatchObject({ kind: 'tenant', tenantId: TENANT, clientId: 'cms-app', member: null });
    expect(actorOf(backend)).toEqual({ actorType: 'TENANT', actorId: 'cms-app', tenantId: TENANT });
  });

  test("a user's organization token is a member with exactly the token's scopes", async () => {
    const member = await resolve({ sub: 'user-42', clientId: 'staff-console', scopes: new Set(['pii:contact:read', 'tenant:admin']) });
    expect(member).toMatchObject({ kind: 'tenant', tenantId: TENANT, clientId: 'staff-console', member: { sub: 'user-42' }, isTenantAdmin: true });
    expect(actorOf(member)).toEqual({ actorType: 'TENANT_MEMBER', actorId: 'user-42', tenantId: TENANT });
    const plain = await resolve({ sub: 'user-43', clientId: 'staff-console' });
    expect(plain).toMatchObject({ member: { sub: 'user-43' }, isTenantAdmin: false });
  });

  test('a token with a tenant claim and no client_id is a member, not the backend', async () => {
    const member = await resolve({ sub: 'user-42' });
    expect(member).toMatchObject({ kind: 'tenant', clientId: null, member: { sub: 'user-42' } });
  });

  test('a member of an organization no tenant answers to is refused', async () => {
    await expect(resolve({ sub: 'user-42', clientId: 'staff-console', organizationId: 'org-2' })).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  });
});
