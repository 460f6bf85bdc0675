import type { Principal } from '../../../../shared/auth/principal';
import { decideAccess, needsConsent, type AccessRequest } from './access-policy';

const SUBJECT = '11111111-1111-4111-8111-111111111111';
const tenant = (scopes: string[]): Principal => ({ kind: 'tenant', tenantId: 't1', clientId: 'c', member: null, scopes: new Set(scopes), isTenantAdmin: false });
const consent = { subjectId: SUBJECT, consentId: 'consent-1', categories: ['CONTACT'] };
const base = (overrides: Partial<AccessRequest>): AccessRequest => ({
  principal: tenant(['pii:contact:read']),
  subjectId: SUBJECT,
  field: 'User.email',
  category: 'CONTACT',
  purpose: 'order_fulfillment',
  purposeMalformed: false,
  consent,
  standing: 'ACTIVE',
  ...overrides,
});

describe('decideAccess (invariant 1)', () => {
  test('tenant with scope, purpose and covering consent is allowed, citing the consent', () => {
    expect(decideAccess(base({}))).toEqual({ allow: true, reason: 'CONSENT', consentId: 'consent-1', masked: false });
  });

  test.each([
    ['anonymous', { principal: { kind: 'anonymous' } as Principal }, 'UNAUTHENTICATED'],
    ['no scope', { principal: tenant(['pii:identity:read']) }, 'SCOPE_REQUIRED'],
    ['masked-looking scope is not the read scope', { principal: tenant(['pii:contact']) }, 'SCOPE_REQUIRED'],
    ['no purpose', { purpose: null }, 'PURPOSE_REQUIRED'],
    ['malformed purpose', { purpose: null, purposeMalformed: true }, 'PURPOSE_REQUIRED'],
    ['no consent', { consent: null }, 'CONSENT_REQUIRED'],
    ['consent not looked up', { consent: undefined }, 'CONSENT_REQUIRED'],
    ['consent for another category', { consent: { ...consent, categories: ['IDENTITY'] } }, 'CONSENT_REQUIRED'],
    ['platform admin', { principal: { kind: 'platform_admin', sub: 'a', scopes: new Set(['platform:admin']) } as Principal }, 'FORBIDDEN'],
    ['another subject', { principal: { kind: 'subject', subjectId: 'other', sub: 'x', scopes: new Set(), emailVerified: null, phoneNumberVerified: null, clientId: null } as Principal }, 'FORBIDDEN'],
  ])('%s is denied with %s', (_name, overrides, code) => {
    expect(decideAccess(base(overrides as Partial<AccessRequest>))).toMatchObject({ allow: false, code, consentId: null });
  });

  test('the subject reads their own data without consent or purpose', () => {
    const self: Principal = { kind: 'subject', subjectId: SUBJECT, sub: 'alice', scopes: new Set(), emailVerified: null, phoneNumberVerified: null, clientId: null };
    expect(decideAccess(base({ principal: self, consent: null, purpose: null }))).toEqual({ allow: true, reason: 'SELF', consentId: null, masked: false });
  });

  test('the masked scope releases only the masked view of a field that has a mask, under the same consent rules', () => {
    const masked = tenant(['pii:contact:read:masked']);
    expect(decideAccess(base({ principal: masked, mask: 'EMAIL' }))).toEqual({ allow: true, reason: 'CONSENT_MASKED', consentId: 'consent-1', masked: true });
    expect(decideAccess(base({ principal: masked, mask: 'EMAIL', consent: null }))).toMatchObject({ allow: false, code: 'CONSENT_REQUIRED' });
    expect(decideAccess(base({ principal: masked, mask: 'EMAIL', purpose: null }))).toMatchObject({ allow: false, code: 'PURPOSE_REQUIRED' });
    // A field without a mask has no masked view.
    expect(decideAccess(base({ principal: masked }))).toMatchObject({ allow: false, code: 'SCOPE_REQUIRED' });
    // The full scope wins over the masked one.
    expect(decideAccess(base({ principal: tenant(['pii:contact:read', 'pii:contact:read:masked']), mask: 'EMAIL' }))).toMatchObject({ masked: false });
  });

  test('a consent lookup is asked for only when it can change the outcome', () => {
    expect(needsConsent(base({}))).toBe(true);
    expect(needsConsent(base({ principal: tenant([]) }))).toBe(false);
    expect(needsConsent(base({ purpose: null }))).toBe(false);
    expect(needsConsent(base({ principal: { kind: 'anonymous' } }))).toBe(false);
  });

  test('deny messages never contain the subject id', () => {
    for (const overrides of [{ consent: null }, { purpose: null }, { principal: tenant([]) }]) {
      const decision = decideAccess(base(overrides));
      expect(JSON.stringify(decision)).not.toContain(SUBJECT);
    }
  });
});

describe('decideAccess for a platform admin (break-glass)', () => {
  const admin: Principal = { kind: 'platform_admin', sub: 'admin-1', scopes: new Set(['platform:admin']) };
  const grant = { subjectId: SUBJECT, reason: 'SUPPORT_REQUEST' as const, grantedTo: 'admin-1' };
  const read = (overrides: Partial<AccessRequest>) => decideAccess(base({ principal: admin, consent: undefined, purpose: null, ...overrides }));

  test('a grant for this subject and admin releases the categories its reason covers, without consent or purpose', () => {
    expect(read({ breakGlass: grant })).toEqual({ allow: true, reason: 'BREAK_GLASS', consentId: null, masked: false });
    expect(read({ breakGlass: { ...grant, reason: 'LEGAL_OBLIGATION' }, category: 'GOVERNMENT_ID', field: 'User.nationalId' })).toMatchObject({ allow: true });
  });

  test.each([
    ['no grant (an entity reference, any other path)', { breakGlass: null }],
    ['a grant for another subject', { breakGlass: { ...grant, subjectId: '22222222-2222-4222-8222-222222222222' } }],
    ['a grant made out to another admin', { breakGlass: { ...grant, grantedTo: 'admin-2' } }],
    ['a support request does not reach the ID document', { breakGlass: grant, category: 'GOVERNMENT_ID' as const }],
    ['a security incident reaches contact data only', { breakGlass: { ...grant, reason: 'SECURITY_INCIDENT' as const }, category: 'IDENTITY' as const }],
  ])('%s is FORBIDDEN', (_name, overrides) => {
    expect(read(overrides as Partial<AccessRequest>)).toMatchObject({ allow: false, code: 'FORBIDDEN', consentId: null });
  });

  test('a grant means nothing to any other principal', () => {
    expect(decideAccess(base({ principal: tenant([]), breakGlass: grant }))).toMatchObject({ allow: false, code: 'SCOPE_REQUIRED' });
    const other: Principal = { kind: 'subject', subjectId: 'other', sub: 'x', scopes: new Set(), emailVerified: null, phoneNumberVerified: null, clientId: null };
    expect(decideAccess(base({ principal: other, breakGlass: grant }))).toMatchObject({ allow: false, code: 'FORBIDDEN' });
    expect(needsConsent(base({ principal: admin, breakGlass: grant }))).toBe(false);
  });
});

describe('decideAccess: a blocked or suspended user', () => {
  test("a tenant gets USER_BLOCKED for a user it blocked (or the platform suspended), whatever the consent; unknown standing fails closed", () => {
    expect(decideAccess(base({ standing: 'BLOCKED' }))).toMatchObject({ allow: false, code: 'USER_BLOCKED', consentId: null });
    expect(decideAccess(base({ standing: undefined }))).toMatchObject({ allow: false, code: 'USER_BLOCKED' });
    // Scope and purpose are judged first: their refusals say what the caller can fix.
    expect(decideAccess(base({ standing: 'BLOCKED', principal: tenant([]) }))).toMatchObject({ code: 'SCOPE_REQUIRED' });
    expect(decideAccess(base({ standing: 'BLOCKED', purpose: null }))).toMatchObject({ code: 'PURPOSE_REQUIRED' });
    // Not connected to the tenant: the consent decides, as before.
    expect(decideAccess(base({ standing: null, consent: null }))).toMatchObject({ code: 'CONSENT_REQUIRED' });
  });

  test('the subject still reads their own data while a shop has them blocked', () => {
    const self: Principal = { kind: 'subject', subjectId: SUBJECT, sub: 'alice', scopes: new Set(), emailVerified: null, phoneNumberVerified: null, clientId: null };
    expect(decideAccess(base({ principal: self, standing: 'BLOCKED', consent: null, purpose: null }))).toMatchObject({ allow: true, reason: 'SELF' });
  });
});
