import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, publishPolicy, purposeOf } from './kit/scenario';

/** Records of processing activities (GDPR Art. 30): generated from a tenant's published policy versions. */
describe('processingRecords', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  const RECORDS = `query($t: ID!) { processingRecords(tenantId: $t) {
    tenantId controller processor dataSubjects securityMeasures generatedAt markdown
    activities { purpose description categories lawfulBasis retentionDays policyVersion policyUrl state effectiveFrom effectiveUntil
      recipients { name role } } } }`;

  test('the tenant admin and a platform admin get one activity per declared purpose, as data and as a Markdown table', async () => {
    const shop = await createTenant(stack, 'Records Shop');
    await publishPolicy(stack, shop, { version: 'v1', purposes: [purposeOf('shipping', ['CONTACT', 'ADDRESS'])] });
    await publishPolicy(stack, shop, {
      version: 'v2',
      purposes: [{ ...purposeOf('shipping', ['CONTACT', 'ADDRESS']), lawfulBasis: 'CONTRACT', retentionDays: 90 }, purposeOf('newsletter', ['CONTACT'])],
    });
    const admin = await stack.gql(RECORDS, { t: shop }, { token: await stack.tokens.tenant(shop, ['tenant:admin']) });
    expectNoErrors(admin);
    const records = admin.data!.processingRecords;
    expect(records).toMatchObject({ tenantId: shop, controller: 'Records Shop', processor: 'privgraph' });
    expect(records.activities.map((a: Record<string, unknown>) => [a.policyVersion, a.purpose, a.state, a.lawfulBasis, a.retentionDays])).toEqual([
      ['v2', 'shipping', 'IN_FORCE', 'CONTRACT', 90],
      ['v2', 'newsletter', 'IN_FORCE', 'CONSENT', 365],
      ['v1', 'shipping', 'SUPERSEDED', 'CONSENT', 365],
    ]);
    expect(records.activities[0].categories).toEqual(['CONTACT', 'ADDRESS']);
    expect(records.activities[0].recipients).toEqual([
      { name: 'Records Shop', role: 'CONTROLLER' },
      { name: 'privgraph', role: 'PROCESSOR' },
    ]);
    expect(records.activities[2].effectiveUntil).toBe(records.activities[0].effectiveFrom);
    expect(records.markdown.split('\n').filter((l: string) => l.startsWith('| `'))).toHaveLength(3);
    expect(records.markdown).toContain('Contract, Art. 6(1)(b)');
    expect(records.securityMeasures.length).toBeGreaterThan(0);

    const platform = await stack.gql(RECORDS, { t: shop }, { token: await stack.tokens.admin() });
    expectNoErrors(platform);
    expect(platform.data!.processingRecords.activities).toEqual(records.activities);
  });

  test('nobody else: a subject, another tenant, a tenant without tenant:admin, no token; an unknown tenant is NOT_FOUND', async () => {
    const shop = await createTenant(stack, 'Private Records');
    const other = await createTenant(stack, 'Curious Shop');
    await publishPolicy(stack, shop, { version: 'v1', purposes: [purposeOf('shipping', ['CONTACT'])] });
    const subject = await createSubject(stack, 'records-subject', { email: 'records.subject@example.com' }, [shop]);
    const ask = async (token: string | undefined, tenantId = shop) => {
      const response = await stack.gql(RECORDS, { t: tenantId }, { token });
      expect(response.data?.processingRecords ?? null).toBeNull();
      expect(JSON.stringify(response)).not.toContain('Private Records');
      return codes(response);
    };
    expect(await ask(subject.token)).toEqual(['FORBIDDEN']);
    expect(await ask(await stack.tokens.tenant(other, ['tenant:admin']))).toEqual(['NOT_FOUND']);
    expect(await ask(await stack.tokens.tenant(shop, ['pii:contact:read']))).toEqual(['SCOPE_REQUIRED']);
    expect(await ask(undefined)).toEqual(['UNAUTHENTICATED']);
    expect(await ask(await stack.tokens.admin(), '33333333-3333-4333-8333-333333333333')).toEqual(['NOT_FOUND']);
    expect(await ask(await stack.tokens.admin(), 'not-a-tenant')).toEqual(['BAD_USER_INPUT']);
    // The same holds when the consent subgraph is called directly (enforcement lives in the subgraph).
    const direct = await stack.gql(RECORDS, { t: shop }, { token: await stack.tokens.tenant(other, ['tenant:admin']), service: 'consent' });
    expect(codes(direct)).toEqual(['NOT_FOUND']);
  });
});
