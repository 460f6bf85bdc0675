import type { ConsentLookups } from '../shared/consent-client';
import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, grantConsent, PROFILE, type Subject } from './kit/scenario';

/**
 * The privacy contract (architecture.md, invariants 1, 2, 5, 6) exercised through the gateway:
 * a tenant reads PII only with scope + purpose + active consent, and every decision is audited.
 */
describe('privacy contract through the gateway', () => {
  let stack: TestStack;
  let consentLookups = 0;
  let shop: string;
  let otherShop: string;

  const USER_QUERY = 'query($ref: ID!) { user(ref: $ref) { ref status email phone givenName address { city country } } }';

  beforeAll(async () => {
    stack = await startTestStack({
      pii: {
        wrapConsents: (inner: ConsentLookups): ConsentLookups => ({
          activeConsents: (...args) => {
            consentLookups += 1;
            return inner.activeConsents(...args);
          },
        }),
      },
    });
    shop = await createTenant(stack, 'Acme Shop');
    otherShop = await createTenant(stack, 'Other Shop');
  });
  afterAll(() => stack?.stop());

  async function newCustomer(name: string): Promise<Subject> {
    return createSubject(stack, name, { ...PROFILE, email: `${name}@example.com` }, [shop, otherShop]);
  }

  async function readAs(subject: Subject, scopes: string[], purpose?: string, tenantId = shop) {
    const token = await stack.tokens.tenant(tenantId, scopes);
    return stack.gql(USER_QUERY, { ref: subject.refs[tenantId] }, { token, purpose });
  }

  async function eventsFor(subject: Subject, tenantId = shop) {
    const token = await stack.tokens.tenant(tenantId);
    return auditEvents(stack, token, { subjectRef: subject.refs[tenantId] });
  }

  test('without consent a tenant gets null + CONSENT_REQUIRED, and a DENY event is recorded', async () => {
    const bob = await newCustomer('bob');
    const response = await readAs(bob, ['pii:contact:read'], 'order_fulfillment');
    expect(response.data?.user).toMatchObject({ ref: bob.refs[shop], status: 'ACTIVE', email: null, phone: null });
    const emailError = response.errors?.find((e) => e.path?.join('.') === 'user.email');
    expect(emailError?.extensions?.code).toBe('CONSENT_REQUIRED');
    const events = await eventsFor(bob);
    expect(events).toContainEqual(
      expect.objectContaining({ field: 'User.email', decision: 'DENY', reason: 'CONSENT_REQUIRED', purpose: 'order_fulfillment', consentId: null }),
    );
  });

  test('consent + scope + purpose releases the value, with an ALLOW event carrying the consent id', async () => {
    const carol = await newCustomer('carol');
    const consentId = await grantConsent(stack, carol, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT'] });
    const response = await readAs(carol, ['pii:contact:read'], 'order_fulfillment');
    expect(response.data?.user).toMatchObject({ email: 'carol@example.com', phone: '+49301234567' });
    // IDENTITY and ADDRESS were neither consented nor in scope.
    expect(response.data?.user).toMatchObject({ givenName: null, address: null });
    const events = await eventsFor(carol);
    const allow = events.find((e) => e.field === 'User.email' && e.decision === 'ALLOW');
    expect(allow).toMatchObject({ reason: 'CONSENT', consentId, purpose: 'order_fulfillment', subjectRef: carol.refs[shop] });
    expect(allow?.requestId).toBe(response.headers.get('x-request-id'));
  });

  test('consent without the scope gives SCOPE_REQUIRED', async () => {
    const dave = await newCustomer('dave');
    await grantConsent(stack, dave, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT', 'IDENTITY'] });
    const response = await readAs(dave, ['pii:contact:read'], 'order_fulfillment');
    expect(response.data?.user).toMatchObject({ email: 'dave@example.com', givenName: null });
    expect(response.errors?.find((e) => e.path?.join('.') === 'user.givenName')?.extensions?.code).toBe('SCOPE_REQUIRED');
    expect(await eventsFor(dave)).toContainEqual(expect.objectContaining({ field: 'User.givenName', decision: 'DENY', reason: 'SCOPE_REQUIRED' }));
  });

  test('a missing, malformed or different purpose is denied', async () => {
    const erin = await newCustomer('erin');
    await grantConsent(stack, erin, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT'] });
    const missing = await readAs(erin, ['pii:contact:read']);
    expect(missing.data?.user).toMatchObject({ email: null });
    expect(codes(missing)).toContain('PURPOSE_REQUIRED');
    const malformed = await readAs(erin, ['pii:contact:read'], 'Order Fulfillment!');
    expect(malformed.data?.user).toMatchObject({ email: null });
    expect(codes(malformed)).toContain('PURPOSE_REQUIRED');
    const other = await readAs(erin, ['pii:contact:read'], 'marketing');
    expect(other.data?.user).toMatchObject({ email: null });
    expect(codes(other)).toContain('CONSENT_REQUIRED');
  });

  test('withdrawal takes effect on the very next request', async () => {
    const frank = await newCustomer('frank');
    const consentId = await grantConsent(stack, frank, { tenantId: shop, purpose: 'support', categories: ['CONTACT'] });
    expect((await readAs(frank, ['pii:contact:read'], 'support')).data?.user).toMatchObject({ email: 'frank@example.com' });
    const withdrawn = await stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { status withdrawnAt } }', { id: consentId }, { token: frank.token });
    expect(withdrawn.data?.withdrawConsent).toMatchObject({ status: 'WITHDRAWN' });
    const after = await readAs(frank, ['pii:contact:read'], 'support');
    expect(after.data?.user).toMatchObject({ email: null });
    expect(codes(after)).toContain('CONSENT_REQUIRED');
  });

  test('an expired consent is denied', async () => {
    const grace = await newCustomer('grace');
    const expiresAt = new Date(stack.clock.now().getTime() + 60_000).toISOString();
    await grantConsent(stack, grace, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'], expiresAt });
    expect((await readAs(grace, ['pii:contact:read'], 'newsletter')).data?.user).toMatchObject({ email: 'grace@example.com' });
    stack.clock.advance(61_000);
    const after = await readAs(grace, ['pii:contact:read'], 'newsletter');
    expect(after.data?.user).toMatchObject({ email: null });
    expect(codes(after)).toContain('CONSENT_REQUIRED');
    const mine = await stack.gql('{ me { consents { purpose status } } }', {}, { token: grace.token });
    expect(mine.data?.me.consents).toContainEqual({ purpose: 'newsletter', status: 'EXPIRED' });
  });

  test("a consent to one tenant does not open the data to another tenant", async () => {
    const heidi = await newCustomer('heidi');
    await grantConsent(stack, heidi, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT'] });
    const response = await readAs(heidi, ['pii:contact:read'], 'order_fulfillment', otherShop);
    expect(response.data?.user).toMatchObject({ ref: heidi.refs[otherShop], email: null });
    expect(codes(response)).toContain('CONSENT_REQUIRED');
  });

  test("tenant B using tenant A's ref gets NOT_FOUND, exactly like an unknown ref", async () => {
    const ivan = await newCustomer('ivan');
    await grantConsent(stack, ivan, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT'] });
    expect(ivan.refs[shop]).not.toBe(ivan.refs[otherShop]);
    const token = await stack.tokens.tenant(otherShop, ['pii:contact:read']);
    const foreign = await stack.gql(USER_QUERY, { ref: ivan.refs[shop] }, { token, purpose: 'order_fulfillment' });
    const unknown = await stack.gql(USER_QUERY, { ref: 'usr_doesnotexist' }, { token, purpose: 'order_fulfillment' });
    expect(foreign.data).toEqual({ user: null });
    expect(codes(foreign)).toEqual(['NOT_FOUND']);
    expect({ data: foreign.data, errors: foreign.errors }).toEqual({ data: unknown.data, errors: unknown.errors });
  });

  test('a page of users costs one consent lookup, not one per user or field', async () => {
    const tenant = await createTenant(stack, 'Batch Shop');
    const customers = [];
    for (const name of ['batch1', 'batch2', 'batch3']) {
      const subject = await createSubject(stack, name, { ...PROFILE, email: `${name}@example.com` }, [tenant]);
      await grantConsent(stack, subject, { tenantId: tenant, purpose: 'crm', categories: ['CONTACT', 'IDENTITY'] });
      customers.push(subject);
    }
    const token = await stack.tokens.tenant(tenant, ['pii:contact:read', 'pii:identity:read']);
    consentLookups = 0;
    const page = await stack.gql(
      '{ users(first: 10) { edges { node { ref email phone givenName familyName } } pageInfo { hasNextPage } } }',
      {},
      { token, purpose: 'crm' },
    );
    expectNoErrors(page);
    const emails = page.data?.users.edges.map((e: { node: { email: string } }) => e.node.email).sort();
    expect(emails).toEqual(['batch1@example.com', 'batch2@example.com', 'batch3@example.com']);
    expect(consentLookups).toBe(1);
    // 3 users × 4 PII fields, each audited as ALLOW.
    const events = await auditEvents(stack, token, { decision: 'ALLOW' });
    expect(events.filter((e) => e.requestId === page.headers.get('x-request-id'))).toHaveLength(12);
  });

  test('tenants see only their own audit events and consents', async () => {
    const judy = await newCustomer('judy');
    await grantConsent(stack, judy, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT'] });
    await grantConsent(stack, judy, { tenantId: otherShop, purpose: 'analytics', categories: ['IDENTITY'] });
    await readAs(judy, ['pii:contact:read'], 'order_fulfillment');
    const otherToken = await stack.tokens.tenant(otherShop);
    const otherEvents = await auditEvents(stack, otherToken);
    expect(otherEvents.every((e) => e.tenantId === otherShop)).toBe(true);
    const consents = await stack.gql('query($ref: ID!) { user(ref: $ref) { consents { tenantId purpose } } }', { ref: judy.refs[otherShop] }, { token: otherToken });
    expect(consents.data?.user.consents).toEqual([{ tenantId: otherShop, purpose: 'analytics' }]);
    const filterByTenant = await stack.gql('{ auditEvents(filter: { tenantId: "00000000-0000-4000-8000-000000000000" }) { edges { cursor } } }', {}, { token: otherToken });
    expect(codes(filterByTenant)).toEqual(['BAD_USER_INPUT']);
  });

  test('the subject reads their own data without consent; the read is audited as SELF', async () => {
    const kim = await newCustomer('kim');
    const response = await stack.gql('{ me { ref email birthDate address { line1 postalCode country } nationalId } }', {}, { token: kim.token });
    expectNoErrors(response);
    expect(response.data?.me).toEqual({
      ref: null,
      email: 'kim@example.com',
      birthDate: '1990-05-17',
      address: { line1: 'Hauptstraße 1', postalCode: '10115', country: 'DE' },
      nationalId: 'T22000129',
    });
    const adminEvents = await auditEvents(stack, await stack.tokens.admin(), { field: 'User.nationalId', decision: 'ALLOW' });
    expect(adminEvents).toContainEqual(expect.objectContaining({ reason: 'SELF', tenantId: null, requestId: response.headers.get('x-request-id') }));
  });

  test('principals are kept to their own operations', async () => {
    const admin = await stack.tokens.admin();
    const tenant = await stack.tokens.tenant(shop, ['pii:contact:read']);
    const subject = await stack.tokens.subject('lena');
    expect(codes(await stack.gql('mutation { createTenant(input: { name: "x" }) { id } }', {}, { token: tenant }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql('mutation { createTenant(input: { name: "x" }) { id } }', {}, { token: subject }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql('{ verifyAuditLog { ok } }', {}, { token: tenant }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql('{ auditEvents { edges { cursor } } }', {}, { token: subject }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql('{ users { edges { cursor } } }', {}, { token: admin }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql('{ me { email } }', {}, {}))).toEqual(['UNAUTHENTICATED']);
    const update = await stack.gql('mutation { updateMyProfile(input: { email: "t@example.com" }) { email } }', {}, { token: tenant });
    expect(codes(update)).toEqual(['FORBIDDEN']);
  });

  test('a token whose organization is no tenant is refused', async () => {
    const token = await stack.tokens.tenant('org-that-does-not-exist', ['pii:contact:read']);
    const response = await stack.gql('{ users { edges { cursor } } }', {}, { token });
    expect(codes(response)).toContain('FORBIDDEN');
  });
});

describe('the public API schema', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  test('clients cannot see or select the internal user id (@inaccessible)', async () => {
    const introspection = await stack.gql('{ __type(name: "User") { fields { name } } }');
    const names = introspection.data?.__type.fields.map((f: { name: string }) => f.name);
    expect(names).toEqual(expect.arrayContaining(['ref', 'status', 'email', 'consents']));
    expect(names).not.toContain('id');
    const selected = await stack.gql('{ me { id } }', {}, { token: await stack.tokens.subject('x') });
    expect(codes(selected)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });
});
