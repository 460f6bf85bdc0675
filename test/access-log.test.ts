import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent, PROFILE, subjectIdByEmail } from './kit/scenario';

/** "Who accessed my data": the subject's own view of every read of their PII by tenants and admins. */
describe('myAccessLog', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  const LOG = `query($first: Int, $after: String) { myAccessLog(first: $first, after: $after) {
    edges { node { occurredAt accessorType tenantId tenantName action field purpose decision reason consentId } cursor }
    pageInfo { hasNextPage endCursor } } }`;

  test('shows each tenant read (allowed and denied) and each admin operation, with the shop\'s name, and nothing of others', async () => {
    const shop = await createTenant(stack, 'Books & Co');
    const alice = await createSubject(stack, 'log-alice', { ...PROFILE, email: 'log.alice@example.com' }, [shop]);
    const bob = await createSubject(stack, 'log-bob', { email: 'log.bob@example.com' }, [shop]);
    const consentId = await grantConsent(stack, alice, { tenantId: shop, purpose: 'shipping', categories: ['CONTACT'] });
    const cms = await stack.tokens.tenant(shop, ['pii:contact:read']);
    await stack.gql('query($r: ID!) { user(ref: $r) { email givenName } }', { r: alice.refs[shop] }, { token: cms, purpose: 'shipping' });
    await stack.gql('query($r: ID!) { user(ref: $r) { email } }', { r: bob.refs[shop] }, { token: cms, purpose: 'shipping' });
    // Alice reading her own data is not someone else's access.
    await stack.gql('{ me { email } }', {}, { token: alice.token });
    const aliceId = await subjectIdByEmail(stack, 'log.alice@example.com');
    expectNoErrors(await stack.gql(`mutation { rekeySubject(subjectId: "${aliceId}", reason: "ticket-88") { generation } }`, {}, { token: await stack.tokens.admin() }));

    const log = await stack.gql(LOG, { first: 50 }, { token: alice.token });
    expectNoErrors(log);
    const entries = log.data?.myAccessLog.edges.map((e: { node: Record<string, unknown> }) => e.node);
    const summary = entries.map((e: Record<string, unknown>) => [e.accessorType, e.tenantName, e.action, e.field, e.purpose, e.decision, e.reason]);
    expect(summary).toHaveLength(4);
    expect(summary.slice(0, 2)).toEqual([
      ['PLATFORM_ADMIN', null, 'DEK_REKEY', null, 'ticket-88', 'ALLOW', 'ADMIN'],
      ['PLATFORM_ADMIN', null, 'PII_LOOKUP', 'User.email', 'test-lookup', 'ALLOW', 'ADMIN'],
    ]);
    // The two field decisions of one request, in either order.
    expect(summary.slice(2)).toEqual(
      expect.arrayContaining([
        ['TENANT', 'Books & Co', 'PII_READ', 'User.givenName', 'shipping', 'DENY', 'SCOPE_REQUIRED'],
        ['TENANT', 'Books & Co', 'PII_READ', 'User.email', 'shipping', 'ALLOW', 'CONSENT'],
      ]),
    );
    expect(entries.find((e: Record<string, unknown>) => e.field === 'User.email' && e.action === 'PII_READ').consentId).toBe(consentId);
    expect(JSON.stringify(log)).not.toMatch(/log\.bob|log\.alice@/);

    // Bob sees his read, not Alice's.
    const bobLog = await stack.gql(LOG, {}, { token: bob.token });
    expect(bobLog.data?.myAccessLog.edges.map((e: { node: { field: string; decision: string } }) => [e.node.field, e.node.decision])).toEqual([['User.email', 'DENY']]);
  });

  test('pages are stable, and only the subject may ask', async () => {
    const shop = await createTenant(stack, 'Pager Shop');
    const subject = await createSubject(stack, 'log-pager', { email: 'log.pager@example.com' }, [shop]);
    const cms = await stack.tokens.tenant(shop, ['pii:contact:read']);
    for (let i = 0; i < 5; i += 1) await stack.gql('query($r: ID!) { user(ref: $r) { email phone } }', { r: subject.refs[shop] }, { token: cms, purpose: 'crm' });
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = await stack.gql(LOG, { first: 3, after }, { token: subject.token });
      expectNoErrors(page);
      seen.push(...page.data.myAccessLog.edges.map((e: { cursor: string }) => e.cursor));
      if (!page.data.myAccessLog.pageInfo.hasNextPage) break;
      after = page.data.myAccessLog.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(10);
    expect(new Set(seen).size).toBe(10);
    for (const token of [cms, await stack.tokens.admin()]) expect(codes(await stack.gql(LOG, {}, { token }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(LOG, {}, {}))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await stack.gql(LOG, { first: 0 }, { token: subject.token }))).toEqual(['BAD_USER_INPUT']);
  });
});
