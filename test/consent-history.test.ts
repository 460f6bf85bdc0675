import { startTestStack, TestClock, type TestStack } from './kit/stack';
import { createSubject, createTenant, expectNoErrors, grantConsent } from './kit/scenario';

/** The append-only consent history, readable by the subject and (its own part) by the tenant. */
describe('consent history', () => {
  let stack: TestStack;
  const clock = new TestClock({ frozen: true });
  beforeAll(async () => {
    stack = await startTestStack({ clock });
  });
  afterAll(() => stack?.stop());

  const HISTORY = '{ me { consentHistory { consentId type occurredAt tenantId purpose categories policyVersion } } }';
  const summary = (events: { type: string; purpose: string; consentId: string }[]) => events.map((e) => `${e.type}:${e.purpose}:${e.consentId}`);

  test('grant, supersede, withdraw and expiry appear in order; each tenant sees only its part', async () => {
    const shop = await createTenant(stack, 'History Shop');
    const other = await createTenant(stack, 'Other History Shop');
    const subject = await createSubject(stack, 'historian', { email: 'historian@example.com' }, [shop, other]);
    const first = await grantConsent(stack, subject, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'] });
    clock.advance(1000);
    const second = await grantConsent(stack, subject, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT', 'IDENTITY'] });
    clock.advance(1000);
    expectNoErrors(await stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { status } }', { id: second }, { token: subject.token }));
    clock.advance(1000);
    const expiresAt = new Date(clock.now().getTime() + 60_000).toISOString();
    const expiring = await grantConsent(stack, subject, { tenantId: other, purpose: 'support', categories: ['CONTACT'], expiresAt });

    const before = (await stack.gql(HISTORY, {}, { token: subject.token })).data?.me.consentHistory;
    expect(summary(before)).toEqual([
      `GRANTED:newsletter:${first}`,
      `SUPERSEDED:newsletter:${first}`,
      `GRANTED:newsletter:${second}`,
      `WITHDRAWN:newsletter:${second}`,
      `GRANTED:support:${expiring}`,
    ]);
    clock.advance(60_000);
    const after = (await stack.gql(HISTORY, {}, { token: subject.token })).data?.me.consentHistory;
    expect(after.at(-1)).toMatchObject({ type: 'EXPIRED', consentId: expiring, occurredAt: expiresAt, tenantId: other });

    const tenantView = await stack.gql('query($r: ID!) { user(ref: $r) { consentHistory { type consentId tenantId } } }', { r: subject.refs[shop] }, { token: await stack.tokens.tenant(shop, []) });
    expectNoErrors(tenantView);
    const events = tenantView.data?.user.consentHistory as { type: string; tenantId: string }[];
    expect(events.map((e) => e.type)).toEqual(['GRANTED', 'SUPERSEDED', 'GRANTED', 'WITHDRAWN']);
    expect(events.every((e) => e.tenantId === shop)).toBe(true);
  });

  test('the history table is append-only in the database', async () => {
    const table = `"${stack.schemas.consent}".consent_event`;
    for (const statement of [`UPDATE ${table} SET purpose = 'changed'`, `DELETE FROM ${table}`]) {
      await expect(stack.sql(statement)).rejects.toThrow();
    }
  });
});
