import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, grantConsent, PROFILE, rowsContaining, subjectIdByEmail } from './kit/scenario';

describe('blind index and masked views', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  const byEmail = 'query($e: String!, $why: String!) { subjectsByEmail(email: $e, reason: $why) { subjectId region } }';
  const byPhone = 'query($p: String!, $why: String!) { subjectsByPhone(phone: $p, reason: $why) { subjectId region } }';

  test('a platform admin finds a subject by normalised email or phone without decrypting; the lookup is audited', async () => {
    await createSubject(stack, 'findable', { ...PROFILE, email: 'Find.Me@Example.com', phone: '+1 415 555 0132', address: { line1: '1 Main St', city: 'SF', postalCode: '94105', country: 'US' } }, []);
    const admin = await stack.tokens.admin();
    const id = await subjectIdByEmail(stack, 'find.me@example.com');
    const found = await stack.gql(byEmail, { e: '  FIND.me@example.COM ', why: 'dedupe-check' }, { token: admin });
    expect(found.data?.subjectsByEmail).toEqual([{ subjectId: id, region: 'us' }]);
    expect((await stack.gql(byPhone, { p: '+14155550132', why: 'signin-link' }, { token: admin })).data?.subjectsByPhone).toEqual([{ subjectId: id, region: 'us' }]);
    expect((await stack.gql(byEmail, { e: 'find.me@example.org', why: 'dedupe-check' }, { token: admin })).data?.subjectsByEmail).toEqual([]);
    // Exact match only: no prefix search.
    expect((await stack.gql(byEmail, { e: 'find@example.com', why: 'dedupe-check' }, { token: admin })).data?.subjectsByEmail).toEqual([]);

    const lookups = await auditEvents(stack, admin, { action: 'PII_LOOKUP' });
    expect(lookups.map((e) => [e.field, e.purpose, e.reason])).toEqual(
      expect.arrayContaining([['User.email', 'dedupe-check', 'ADMIN'], ['User.phone', 'signin-link', 'ADMIN']]),
    );
    expect(JSON.stringify(lookups)).not.toMatch(/find\.me|4155550132/i);
    // The index holds digests, not contacts.
    expect(await rowsContaining(stack, ['find.me@example.com', 'Find.Me@Example.com', '+14155550132'])).toEqual([]);
  });

  test('after an email change the old address no longer matches; erasing the email removes its index entry', async () => {
    const subject = await createSubject(stack, 'changer', { email: 'old.address@example.com' }, []);
    const admin = await stack.tokens.admin();
    const id = await subjectIdByEmail(stack, 'old.address@example.com');
    expectNoErrors(await stack.gql('mutation { updateMyProfile(input: { email: "new.address@example.com" }) { email } }', {}, { token: subject.token }));
    expect((await stack.gql(byEmail, { e: 'old.address@example.com', why: 'check' }, { token: admin })).data?.subjectsByEmail).toEqual([]);
    expect((await stack.gql(byEmail, { e: 'new.address@example.com', why: 'check' }, { token: admin })).data?.subjectsByEmail).toEqual([{ subjectId: id, region: 'eu' }]);
    expectNoErrors(await stack.gql('mutation { updateMyProfile(input: { email: null }) { email } }', {}, { token: subject.token }));
    expect((await stack.gql(byEmail, { e: 'new.address@example.com', why: 'check' }, { token: admin })).data?.subjectsByEmail).toEqual([]);
  });

  test('tenants and subjects can never search by PII; a reason is required and must not be free text', async () => {
    const shop = await createTenant(stack, 'Nosy Shop');
    for (const token of [await stack.tokens.tenant(shop, ['tenant:admin', 'pii:contact:read']), await stack.tokens.subject('nosy')]) {
      const refused = await stack.gql(byEmail, { e: 'find.me@example.com', why: 'curious' }, { token });
      expect(codes(refused)).toEqual(['FORBIDDEN']);
      expect(refused.data).toBeNull();
    }
    expect(codes(await stack.gql(byEmail, { e: 'find.me@example.com', why: 'because Alice asked' }, { token: await stack.tokens.admin() }))).toEqual(['BAD_USER_INPUT']);
    const malformed = await stack.gql(byEmail, { e: 'not an email', why: 'check' }, { token: await stack.tokens.admin() });
    expect(malformed.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'email' });
    expect(JSON.stringify(malformed.errors)).not.toContain('not an email');
  });

  test('a masked scope releases masked values under the same consent rules, and the audit says so', async () => {
    const shop = await createTenant(stack, 'Masked Shop');
    const subject = await createSubject(stack, 'masked', { ...PROFILE, email: 'alice.masked@example.com' }, [shop]);
    const ref = subject.refs[shop];
    const query = 'query($r: ID!) { user(ref: $r) { email phone givenName birthDate address { line1 city postalCode country } nationalId } }';
    const masked = await stack.tokens.tenant(shop, ['pii:contact:read:masked', 'pii:identity:read:masked', 'pii:address:read:masked', 'pii:government_id:read:masked']);

    const withoutConsent = await stack.gql(query, { r: ref }, { token: masked, purpose: 'support' });
    expect(new Set(codes(withoutConsent))).toEqual(new Set(['CONSENT_REQUIRED', 'SCOPE_REQUIRED']));
    expect(JSON.stringify(withoutConsent.data)).not.toMatch(/a\*\*\*|1234567/);

    await grantConsent(stack, subject, { tenantId: shop, purpose: 'support', categories: ['CONTACT', 'IDENTITY', 'ADDRESS', 'GOVERNMENT_ID'] });
    const response = await stack.gql(query, { r: ref }, { token: masked, purpose: 'support' });
    expect(response.data?.user).toEqual({
      email: 'a***@example.com',
      phone: '*** *** 4567',
      givenName: 'A.',
      birthDate: null,
      address: { line1: '***', city: 'Berlin', postalCode: '***', country: 'DE' },
      nationalId: '***0129',
    });
    // birthDate has no masked view: the masked scope does not unlock it.
    expect(codes(response)).toEqual(['SCOPE_REQUIRED']);
    expect(JSON.stringify(response)).not.toMatch(/alice\.masked|Hauptstraße|10115|T22000129|1990/);

    const requestId = response.headers.get('x-request-id') as string;
    const events = await auditEvents(stack, await stack.tokens.tenant(shop, []), { requestId });
    const reasons = Object.fromEntries(events.map((e) => [e.field, `${e.decision}:${e.reason}`]));
    expect(reasons).toEqual({
      'User.email': 'ALLOW:CONSENT_MASKED',
      'User.phone': 'ALLOW:CONSENT_MASKED',
      'User.givenName': 'ALLOW:CONSENT_MASKED',
      'User.birthDate': 'DENY:SCOPE_REQUIRED',
      'User.address': 'ALLOW:CONSENT_MASKED',
      'User.nationalId': 'ALLOW:CONSENT_MASKED',
    });
    // The full scope still releases the value.
    const full = await stack.gql('query($r: ID!) { user(ref: $r) { email } }', { r: ref }, { token: await stack.tokens.tenant(shop, ['pii:contact:read']), purpose: 'support' });
    expect(full.data?.user.email).toBe('alice.masked@example.com');
  });
});
