import { createHash } from 'node:crypto';
import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, grantConsent, purposeOf, type Subject } from './kit/scenario';

/**
 * Organization members: a staff user's organization token acts for the shop with exactly its scopes,
 * and the audit log says which staff member it was; the shop's backend token stays the shop itself.
 */
describe('organization members', () => {
  let stack: TestStack;
  let shop: string;
  let otherShop: string;
  let alice: Subject;
  let consentId: string;

  const READ = 'query($r: ID!) { user(ref: $r) { ref email givenName } }';
  const MEMBER_EVENTS = `query($filter: AuditFilter) { auditEvents(first: 50, filter: $filter) {
    edges { node { actorType memberId tenantId subjectRef action field purpose decision reason requestId } } } }`;
  const LOG = '{ myAccessLog(first: 50) { edges { node { accessorType tenantId tenantName action field purpose decision reason } } } }';

  beforeAll(async () => {
    stack = await startTestStack();
    shop = await createTenant(stack, 'Members Shop');
    otherShop = await createTenant(stack, 'Elsewhere Shop');
    alice = await createSubject(stack, 'member-alice', { email: 'member.alice@example.com', givenName: 'Alice' }, [shop, otherShop]);
    consentId = await grantConsent(stack, alice, { tenantId: shop, purpose: 'support', categories: ['CONTACT'] });
  });
  afterAll(() => stack?.stop());

  test('a member reads PII per scope and consent; the event records TENANT_MEMBER, the tenant and the staff user', async () => {
    const member = await stack.tokens.member(shop, 'staff-bob', ['pii:contact:read']);
    const read = await stack.gql(READ, { r: alice.refs[shop] }, { token: member, purpose: 'support' });
    expect(read.data?.user).toEqual({ ref: alice.refs[shop], email: 'member.alice@example.com', givenName: null });
    expect(codes(read)).toEqual(['SCOPE_REQUIRED']);
    const requestId = read.headers.get('x-request-id');

    const rows = await stack.sql<{ actor_type: string; actor_id: string; tenant_id: string; field: string; decision: string; reason: string; consent_id: string | null }>(
      `SELECT actor_type, actor_id, tenant_id, field, decision, reason, consent_id FROM "${stack.schemas.audit}".audit_event WHERE request_id = $1 ORDER BY field`,
      [requestId],
    );
    expect(rows).toEqual([
      { actor_type: 'TENANT_MEMBER', actor_id: 'staff-bob', tenant_id: shop, field: 'User.email', decision: 'ALLOW', reason: 'CONSENT', consent_id: consentId },
      { actor_type: 'TENANT_MEMBER', actor_id: 'staff-bob', tenant_id: shop, field: 'User.givenName', decision: 'DENY', reason: 'SCOPE_REQUIRED', consent_id: null },
    ]);

    // The shop's own audit view names the staff member, and can be narrowed to one member.
    const view = await stack.gql(MEMBER_EVENTS, { filter: { requestId } }, { token: await stack.tokens.tenant(shop, []) });
    expectNoErrors(view);
    expect(view.data?.auditEvents.edges.map((e: { node: Record<string, unknown> }) => [e.node.actorType, e.node.memberId, e.node.tenantId, e.node.subjectRef])).toEqual([
      ['TENANT_MEMBER', 'staff-bob', shop, alice.refs[shop]],
      ['TENANT_MEMBER', 'staff-bob', shop, alice.refs[shop]],
    ]);
    const bobs = await stack.gql(MEMBER_EVENTS, { filter: { memberId: 'staff-bob' } }, { token: await stack.tokens.tenant(shop, []) });
    expectNoErrors(bobs);
    expect(bobs.data?.auditEvents.edges.length).toBeGreaterThanOrEqual(2);
    expect(bobs.data?.auditEvents.edges.every((e: { node: { memberId: string } }) => e.node.memberId === 'staff-bob')).toBe(true);
    const conflicting = await stack.gql(MEMBER_EVENTS, { filter: { memberId: 'staff-bob', actorType: 'TENANT' } }, { token: await stack.tokens.tenant(shop, []) });
    expect(codes(conflicting)).toEqual(['BAD_USER_INPUT']);

    // The subject sees the shop and that a staff member read it, not which one.
    const log = await stack.gql(LOG, {}, { token: alice.token });
    expectNoErrors(log);
    const entries = log.data?.myAccessLog.edges.map((e: { node: Record<string, unknown> }) => e.node);
    expect(entries).toEqual(
      expect.arrayContaining([
        { accessorType: 'TENANT_MEMBER', tenantId: shop, tenantName: 'Members Shop', action: 'PII_READ', field: 'User.email', purpose: 'support', decision: 'ALLOW', reason: 'CONSENT' },
      ]),
    );
    expect(JSON.stringify(log)).not.toContain('staff-bob');

    // The shop's export carries the member too.
    const range = new URLSearchParams({ format: 'jsonl', since: new Date(Date.now() - 600_000).toISOString(), until: new Date(Date.now() + 60_000).toISOString() });
    const exported = await fetch(`${stack.running.gateway.url}/audit/export?${range}`, { headers: { authorization: `Bearer ${await stack.tokens.tenant(shop, [])}` } });
    expect(exported.status).toBe(200);
    const lines = (await exported.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.filter((l) => l.requestId === requestId).map((l) => [l.actorType, l.memberId, l.field])).toEqual(
      expect.arrayContaining([
        ['TENANT_MEMBER', 'staff-bob', 'User.email'],
        ['TENANT_MEMBER', 'staff-bob', 'User.givenName'],
      ]),
    );
  });

  test("the shop's backend token is still the tenant itself, recorded with its client id", async () => {
    const backend = await stack.tokens.tenant(shop, ['pii:contact:read']);
    const read = await stack.gql(READ.replace(' givenName', ''), { r: alice.refs[shop] }, { token: backend, purpose: 'support' });
    expectNoErrors(read);
    expect(read.data?.user.email).toBe('member.alice@example.com');
    const [row] = await stack.sql<{ actor_type: string; actor_id: string; tenant_id: string }>(
      `SELECT actor_type, actor_id, tenant_id FROM "${stack.schemas.audit}".audit_event WHERE request_id = $1`,
      [read.headers.get('x-request-id')],
    );
    expect(row).toEqual({ actor_type: 'TENANT', actor_id: `tenant-client-${shop}`, tenant_id: shop });
    const view = await stack.gql(MEMBER_EVENTS, { filter: { requestId: read.headers.get('x-request-id') } }, { token: backend });
    expect(view.data?.auditEvents.edges.map((e: { node: Record<string, unknown> }) => [e.node.actorType, e.node.memberId])).toEqual([['TENANT', null]]);
  });

  test('a member gets nothing beyond the token: no scope, no purpose, no consent for the purpose', async () => {
    const noScope = await stack.gql(READ, { r: alice.refs[shop] }, { token: await stack.tokens.member(shop, 'staff-carol', []), purpose: 'support' });
    expect(noScope.data?.user).toMatchObject({ ref: alice.refs[shop], email: null, givenName: null });
    expect(codes(noScope).sort()).toEqual(['SCOPE_REQUIRED', 'SCOPE_REQUIRED']);
    const member = await stack.tokens.member(shop, 'staff-carol', ['pii:contact:read']);
    expect(codes(await stack.gql(READ.replace(' givenName', ''), { r: alice.refs[shop] }, { token: member }))).toEqual(['PURPOSE_REQUIRED']);
    expect(codes(await stack.gql(READ.replace(' givenName', ''), { r: alice.refs[shop] }, { token: member, purpose: 'marketing' }))).toEqual(['CONSENT_REQUIRED']);
  });

  test("a member of another organization cannot see this tenant's refs", async () => {
    const stranger = await stack.tokens.member(otherShop, 'staff-bob', ['pii:contact:read']);
    const read = await stack.gql(READ, { r: alice.refs[shop] }, { token: stranger, purpose: 'support' });
    expect(read.data?.user).toBeNull();
    expect(codes(read)).toEqual(['NOT_FOUND']);
    // Its own ref for the same person gives no PII either: no consent to that shop.
    const own = await stack.gql(READ.replace(' givenName', ''), { r: alice.refs[otherShop] }, { token: stranger, purpose: 'support' });
    expect(own.data?.user).toMatchObject({ ref: alice.refs[otherShop], email: null });
    expect(codes(own)).toEqual(['CONSENT_REQUIRED']);
    // A member of an organization no tenant answers to is refused before anything runs.
    expect(codes(await stack.gql(READ, { r: alice.refs[shop] }, { token: await stack.tokens.member('no-such-org', 'staff-bob', ['pii:contact:read']) }))).toEqual(['FORBIDDEN']);
  });

  test('a member with tenant:admin does tenant-admin operations, audited as that member; one without cannot', async () => {
    const publish = `mutation($i: PublishPolicyVersionInput!) { publishPolicyVersion(input: $i) { version } }`;
    const input = (version: string) => ({
      version,
      url: `https://shop.example/privacy/${version}`,
      textHash: createHash('sha256').update(`policy ${version}`).digest('hex'),
      purposes: [purposeOf('support', ['CONTACT'])],
    });
    const plain = await stack.tokens.member(shop, 'staff-dave', ['pii:contact:read']);
    expect(codes(await stack.gql(publish, { i: input('v90') }, { token: plain }))).toEqual(['SCOPE_REQUIRED']);
    expect(codes(await stack.gql('{ webhookEndpoints { id } }', {}, { token: plain }))).toEqual(['SCOPE_REQUIRED']);
    // Nor does a staff member without tenant:admin read the shop's audit log, which names colleagues and refs.
    const log = await stack.gql(MEMBER_EVENTS, {}, { token: plain });
    expect(log.data).toBeNull();
    expect(codes(log)).toEqual(['SCOPE_REQUIRED']);
    const range = new URLSearchParams({ format: 'jsonl', since: new Date(Date.now() - 600_000).toISOString(), until: new Date(Date.now() + 60_000).toISOString() });
    const exported = await fetch(`${stack.running.gateway.url}/audit/export?${range}`, { headers: { authorization: `Bearer ${plain}` } });
    expect(exported.status).toBe(403);
    expect(await exported.text()).not.toContain('"requestId"');

    const admin = await stack.tokens.member(shop, 'staff-erin', ['tenant:admin']);
    expectNoErrors(await stack.gql(publish, { i: input('v91') }, { token: admin }));
    expectNoErrors(await stack.gql('{ webhookEndpoints { id } }', {}, { token: admin }));
    const events = await stack.gql(MEMBER_EVENTS, { filter: { action: 'POLICY_PUBLISH', memberId: 'staff-erin' } }, { token: admin });
    expectNoErrors(events);
    expect(events.data?.auditEvents.edges.map((e: { node: Record<string, unknown> }) => [e.node.actorType, e.node.memberId, e.node.tenantId, e.node.field])).toEqual([
      ['TENANT_MEMBER', 'staff-erin', shop, 'PolicyVersion.v91'],
    ]);
    // Tenant admin of its own shop only.
    const outsider = await stack.tokens.member(otherShop, 'staff-erin', ['tenant:admin']);
    const theirs = await auditEvents(stack, outsider, { action: 'POLICY_PUBLISH' });
    expect(theirs.some((e) => e.tenantId === shop)).toBe(false);
  });
});
