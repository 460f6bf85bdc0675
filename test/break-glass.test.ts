import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent, PROFILE, subjectIdByEmail, type Subject } from './kit/scenario';

/**
 * Break-glass: a platform admin reads a subject's personal data for a stated reason under a ticket,
 * only through breakGlassUser, each field audited and shown to the subject.
 */
describe('break-glass reads by platform admins', () => {
  let stack: TestStack;
  let alice: Subject;
  let aliceId: string;
  let shop: string;

  const BREAK_GLASS = `query($id: ID!, $reason: BreakGlassReason!, $ticket: String!) {
    breakGlassUser(subjectId: $id, reason: $reason, ticket: $ticket) { ref status region email givenName address { city } nationalId } }`;
  const LOG = '{ myAccessLog(first: 100) { edges { node { accessorType tenantId tenantName action field purpose decision reason } } } }';
  type EventRow = { actor_type: string; actor_id: string; tenant_id: string | null; subject_id: string; action: string; field: string; purpose: string | null; decision: string; reason: string };
  const eventsOf = (requestId: string | null) =>
    stack.sql<EventRow>(
      `SELECT actor_type, actor_id, tenant_id, subject_id, action, field, purpose, decision, reason FROM "${stack.schemas.audit}".audit_event WHERE request_id = $1 ORDER BY field`,
      [requestId],
    );

  beforeAll(async () => {
    stack = await startTestStack({
      env: { DSR_SWEEP_INTERVAL_MS: '1000', DSR_STEP_TIMEOUT_SECONDS: '3', JOBS_POLL_SECONDS: '0.5', JOBS_MAINTENANCE_SECONDS: '1' },
    });
    shop = await createTenant(stack, 'Glass Shop');
    alice = await createSubject(stack, 'glass-alice', { ...PROFILE, email: 'glass.alice@example.com' }, [shop]);
    await grantConsent(stack, alice, { tenantId: shop, purpose: 'shipping', categories: ['CONTACT', 'IDENTITY', 'ADDRESS', 'GOVERNMENT_ID'] });
    aliceId = await subjectIdByEmail(stack, 'glass.alice@example.com');
  });
  afterAll(() => stack?.stop());

  test('a support request releases what it covers, refuses the ID document, audits every field and shows in the access log', async () => {
    const admin = await stack.tokens.admin();
    const read = await stack.gql(BREAK_GLASS, { id: aliceId, reason: 'SUPPORT_REQUEST', ticket: 'SUP-1042' }, { token: admin });
    expect(read.data?.breakGlassUser).toEqual({
      ref: null,
      status: 'ACTIVE',
      region: 'eu',
      email: 'glass.alice@example.com',
      givenName: 'Alice',
      address: { city: 'Berlin' },
      nationalId: null,
    });
    expect(read.errors?.map((e) => [e.path?.join('.'), e.extensions?.code])).toEqual([['breakGlassUser.nationalId', 'FORBIDDEN']]);

    const purpose = 'support_request.sup-1042';
    const events = await eventsOf(read.headers.get('x-request-id'));
    expect(events).toEqual(
      [
        ['User.address', 'ALLOW', 'BREAK_GLASS'],
        ['User.email', 'ALLOW', 'BREAK_GLASS'],
        ['User.givenName', 'ALLOW', 'BREAK_GLASS'],
        ['User.nationalId', 'DENY', 'FORBIDDEN'],
      ].map(([field, decision, reason]) => ({
        actor_type: 'PLATFORM_ADMIN',
        actor_id: 'platform-admin',
        tenant_id: null,
        subject_id: aliceId,
        action: 'PII_READ',
        field,
        purpose,
        decision,
        reason,
      })),
    );
    expect(JSON.stringify(events)).not.toMatch(/glass\.alice@|Berlin|T22000129/);

    const log = await stack.gql(LOG, {}, { token: alice.token });
    expectNoErrors(log);
    const entries = log.data?.myAccessLog.edges.map((e: { node: Record<string, unknown> }) => e.node).filter((e: { purpose: string }) => e.purpose === purpose);
    expect(entries.map((e: Record<string, unknown>) => [e.accessorType, e.tenantName, e.action, e.field, e.decision, e.reason]).sort()).toEqual([
      ['PLATFORM_ADMIN', null, 'PII_READ', 'User.address', 'ALLOW', 'BREAK_GLASS'],
      ['PLATFORM_ADMIN', null, 'PII_READ', 'User.email', 'ALLOW', 'BREAK_GLASS'],
      ['PLATFORM_ADMIN', null, 'PII_READ', 'User.givenName', 'ALLOW', 'BREAK_GLASS'],
      ['PLATFORM_ADMIN', null, 'PII_READ', 'User.nationalId', 'DENY', 'FORBIDDEN'],
    ]);
  });

  test('each reason opens its own categories: a legal obligation reaches the ID document, a security incident contact data only', async () => {
    const admin = await stack.tokens.admin();
    const legal = await stack.gql(BREAK_GLASS, { id: aliceId, reason: 'LEGAL_OBLIGATION', ticket: 'court-2026-17' }, { token: admin });
    expectNoErrors(legal);
    expect(legal.data?.breakGlassUser).toMatchObject({ email: 'glass.alice@example.com', nationalId: 'T22000129' });
    const incident = await stack.gql(BREAK_GLASS, { id: aliceId, reason: 'SECURITY_INCIDENT', ticket: 'inc-7' }, { token: admin });
    expect(incident.data?.breakGlassUser).toMatchObject({ email: 'glass.alice@example.com', givenName: null, address: null, nationalId: null });
    expect(codes(incident)).toEqual(['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
    expect((await eventsOf(incident.headers.get('x-request-id'))).map((e) => [e.field, e.purpose, e.decision])).toEqual([
      ['User.address', 'security_incident.inc-7', 'DENY'],
      ['User.email', 'security_incident.inc-7', 'ALLOW'],
      ['User.givenName', 'security_incident.inc-7', 'DENY'],
      ['User.nationalId', 'security_incident.inc-7', 'DENY'],
    ]);
  });

  test('tenants, their members and subjects cannot call it', async () => {
    const callers = [
      await stack.tokens.tenant(shop, ['pii:contact:read', 'tenant:admin', 'platform:admin']),
      await stack.tokens.member(shop, 'staff-bob', ['pii:contact:read', 'tenant:admin', 'platform:admin']),
      alice.token,
    ];
    for (const token of callers) {
      const read = await stack.gql(BREAK_GLASS, { id: aliceId, reason: 'SUPPORT_REQUEST', ticket: 'sup-1' }, { token, purpose: 'shipping' });
      expect(read.data?.breakGlassUser ?? null).toBeNull();
      expect(codes(read)).toEqual(['FORBIDDEN']);
      expect(await eventsOf(read.headers.get('x-request-id'))).toEqual([]);
    }
    expect(codes(await stack.gql(BREAK_GLASS, { id: aliceId, reason: 'SUPPORT_REQUEST', ticket: 'sup-1' }))).toEqual(['UNAUTHENTICATED']);
  });

  test('without a reason, with an unknown reason or a bad ticket nothing is read and nothing is audited', async () => {
    const admin = await stack.tokens.admin();
    const noReason = await stack.gql(`{ breakGlassUser(subjectId: "${aliceId}", ticket: "sup-1") { email } }`, {}, { token: admin });
    expect(codes(noReason)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const noTicket = await stack.gql(`{ breakGlassUser(subjectId: "${aliceId}", reason: SUPPORT_REQUEST) { email } }`, {}, { token: admin });
    expect(codes(noTicket)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const unknown = await stack.gql(BREAK_GLASS, { id: aliceId, reason: 'CURIOSITY', ticket: 'sup-1' }, { token: admin });
    expect(codes(unknown)).toEqual(['BAD_USER_INPUT']);
    for (const ticket of ['', 'alice@example.com', 'because I want to', 'sup-', `sup-${'9'.repeat(40)}`]) {
      const read = await stack.gql(BREAK_GLASS, { id: aliceId, reason: 'SUPPORT_REQUEST', ticket }, { token: admin });
      expect(read.data?.breakGlassUser).toBeNull();
      expect(read.errors?.map((e) => [e.extensions?.code, e.extensions?.field])).toEqual([['BAD_USER_INPUT', 'ticket']]);
      expect(JSON.stringify(read)).not.toContain('alice@example.com');
      expect(await eventsOf(read.headers.get('x-request-id'))).toEqual([]);
    }
  });

  test('a platform admin gets no PII any other way: not through _entities on the pii port, not with a forged grant', async () => {
    const admin = await stack.tokens.admin();
    const forged = { subjectId: aliceId, reason: 'LEGAL_OBLIGATION', ticket: 'court-1', grantedTo: 'platform-admin' };
    const entities = await stack.gql(
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email nationalId region } } }',
      { r: [{ __typename: 'User', id: aliceId, breakGlass: forged }] },
      { token: admin, service: 'pii', headers: { 'x-request-id': 'break-glass-entities-1' } },
    );
    expect(entities.data?._entities).toEqual([{ email: null, nationalId: null, region: 'eu' }]);
    expect(codes(entities)).toEqual(['FORBIDDEN', 'FORBIDDEN']);
    expect(JSON.stringify(entities)).not.toMatch(/glass\.alice@|T22000129/);
    expect((await eventsOf('break-glass-entities-1')).map((e) => [e.actor_type, e.field, e.purpose, e.decision, e.reason])).toEqual([
      ['PLATFORM_ADMIN', 'User.email', null, 'DENY', 'FORBIDDEN'],
      ['PLATFORM_ADMIN', 'User.nationalId', null, 'DENY', 'FORBIDDEN'],
    ]);
  });

  test('a subject whose data is erased, or who never stored any, yields nothing', async () => {
    const admin = await stack.tokens.admin();
    const bob = await createSubject(stack, 'glass-bob', { email: 'glass.bob@example.com' }, []);
    const bobId = await subjectIdByEmail(stack, 'glass.bob@example.com');
    const opened = await stack.gql('mutation { requestErasure(reason: "no_longer_needed") { id } }', {}, { token: bob.token });
    expectNoErrors(opened);
    const id = opened.data!.requestErasure.id;
    for (let tries = 0; ; tries += 1) {
      const state = await stack.gql('query($id: ID!) { dataSubjectRequest(id: $id) { status } }', { id }, { token: admin });
      expectNoErrors(state);
      if (state.data!.dataSubjectRequest.status === 'COMPLETED') break;
      if (tries > 200) throw new Error(`erasure did not complete: ${JSON.stringify(state.data)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    for (const subjectId of [bobId, '7a1f3c4e-0000-4000-8000-000000000000']) {
      const read = await stack.gql(BREAK_GLASS, { id: subjectId, reason: 'LEGAL_OBLIGATION', ticket: 'court-2026-18' }, { token: admin });
      expect(read.data?.breakGlassUser).toBeNull();
      expect(codes(read)).toEqual(['NOT_FOUND']);
      expect(JSON.stringify(read)).not.toContain('glass.bob@');
      expect(await eventsOf(read.headers.get('x-request-id'))).toEqual([]);
    }
  });
});
