import { startTestStack, TestClock, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors } from './kit/scenario';

/* Deadlines of data subject requests (GDPR Art. 12(3)) on a frozen clock, and who may see them. */
const DAY = 24 * 60 * 60 * 1000;
const LIST = `query($f: DataSubjectRequestFilter, $first: Int, $after: String) { dataSubjectRequests(filter: $f, first: $first, after: $after) {
  edges { node { id kind status dueAt overdue extension { months reason noticeDueAt } } } pageInfo { hasNextPage endCursor } } }`;

describe('data subject request deadlines', () => {
  let stack: TestStack;
  const clock = new TestClock({ frozen: true });

  beforeAll(async () => {
    // Jobs wait, so the requests stay open while the clock moves (the saga is tested in erasure.test.ts).
    stack = await startTestStack({ clock, env: { DSR_SWEEP_INTERVAL_MS: '0', JOBS_POLL_SECONDS: '60' } });
  });
  afterAll(() => stack.stop());

  const exportFor = async (name: string) => {
    const subject = await createSubject(stack, name, { email: `${name}@example.com` }, []);
    const response = await stack.gql('mutation { requestDataExport { id receivedAt dueAt overdue status } }', {}, { token: subject.token });
    expectNoErrors(response);
    return { subject, request: response.data!.requestDataExport };
  };

  test('due one month after receipt; overdue requests are listed first; an extension beyond two months is refused', async () => {
    const admin = await stack.tokens.admin();
    const first = await exportFor('deadline-a');
    expect(new Date(first.request.dueAt).getTime() - new Date(first.request.receivedAt).getTime()).toBeGreaterThanOrEqual(28 * DAY);
    expect(first.request).toMatchObject({ status: 'RECEIVED', overdue: false });
    clock.advance(10 * DAY);
    const second = await exportFor('deadline-b');
    clock.advance(10 * DAY);
    const third = await exportFor('deadline-c');

    // The first request gets two more months within its first month; a third month is refused.
    const extend = 'mutation($id: ID!, $m: Int, $r: String!) { extendDataSubjectRequest(id: $id, months: $m, reason: $r) { dueAt extension { months reason noticeDueAt } } }';
    const extended = await stack.gql(extend, { id: first.request.id, m: 2, r: 'complex-request' }, { token: admin });
    expectNoErrors(extended);
    expect(extended.data!.extendDataSubjectRequest.extension).toEqual({ months: 2, reason: 'complex-request', noticeDueAt: first.request.dueAt });
    expect(new Date(extended.data!.extendDataSubjectRequest.dueAt).getTime()).toBeGreaterThan(new Date(first.request.dueAt).getTime() + 55 * DAY);
    const beyond = await stack.gql(extend, { id: first.request.id, m: 1, r: 'more-time' }, { token: admin });
    expect(codes(beyond)).toEqual(['BAD_USER_INPUT']);
    expect(beyond.errors?.[0].extensions?.field).toBe('months');
    expect(codes(await stack.gql(extend, { id: second.request.id, m: 3, r: 'more-time' }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    // The subject sees the extension and its reason: the notice Art. 12(3) owes them.
    const mine = await stack.gql('{ myDataSubjectRequests { id extension { months reason } } }', {}, { token: first.subject.token });
    expect(mine.data?.myDataSubjectRequests).toEqual([{ id: first.request.id, extension: { months: 2, reason: 'complex-request' } }]);

    // Day 45: the second request (received day 10, due a month later) is overdue; the third (day 20) is not yet,
    // nor is the first (extended to three months).
    clock.advance(25 * DAY);
    const listed = await stack.gql(LIST, { first: 50 }, { token: admin });
    expectNoErrors(listed);
    const ours = listed.data!.dataSubjectRequests.edges.map((e: { node: { id: string; overdue: boolean } }) => e.node).filter((n: { id: string }) => [first, second, third].some((x) => x.request.id === n.id));
    expect(ours.map((n: { id: string; overdue: boolean }) => [n.id, n.overdue])).toEqual([
      [second.request.id, true],
      [third.request.id, false],
      [first.request.id, false],
    ]);
    const overdue = await stack.gql(LIST, { f: { overdue: true }, first: 50 }, { token: admin });
    expect(overdue.data!.dataSubjectRequests.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([second.request.id]);
    // An extension after the first month is too late to tell the subject in time.
    const late = await stack.gql(extend, { id: second.request.id, m: 1, r: 'late' }, { token: admin });
    expect(codes(late)).toEqual(['BAD_USER_INPUT']);

    // Paging walks the same order.
    const page1 = await stack.gql(LIST, { first: 1 }, { token: admin });
    const page2 = await stack.gql(LIST, { first: 1, after: page1.data!.dataSubjectRequests.pageInfo.endCursor }, { token: admin });
    expect(page1.data!.dataSubjectRequests.edges[0].node.id).toBe(second.request.id);
    expect(page2.data!.dataSubjectRequests.edges[0].node.id).toBe(third.request.id);
    expect(codes(await stack.gql(LIST, { after: 'bm90LWEtY3Vyc29y' }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
  });

  test('who may see and open requests: the subject their own, platform admins all, nobody else', async () => {
    const { subject, request } = await exportFor('deadline-owner');
    const other = await createSubject(stack, 'deadline-other', { email: 'other@example.com' }, []);
    const mine = await stack.gql('{ myDataSubjectRequests { id } }', {}, { token: other.token });
    expect(mine.data?.myDataSubjectRequests).toEqual([]);
    const one = 'query($id: ID!) { dataSubjectRequest(id: $id) { id } }';
    expect(codes(await stack.gql(one, { id: request.id }, { token: subject.token }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(one, { id: request.id }, { token: await stack.tokens.tenant('00000000-0000-4000-8000-000000000000', ['tenant:admin']) }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(one, { id: request.id }))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await stack.gql(LIST, {}, { token: subject.token }))).toEqual(['FORBIDDEN']);
    const admin = await stack.tokens.admin();
    expect(codes(await stack.gql(one, { id: 'not-an-id' }, { token: admin }))).toEqual(['NOT_FOUND']);
    // Free text is refused as a reason (it could carry personal data); nothing is opened.
    const before = await stack.gql('{ myDataSubjectRequests { id } }', {}, { token: other.token });
    expect(codes(await stack.gql('mutation { requestErasure(reason: "My name is Bob, delete me") { id } }', {}, { token: other.token }))).toEqual(['BAD_USER_INPUT']);
    expect((await stack.gql('{ myDataSubjectRequests { id } }', {}, { token: other.token })).data).toEqual(before.data);
    // A platform admin opens a request on a subject's behalf only with a reason code, and only for a subject that exists.
    const open = 'mutation($i: OpenDataSubjectRequestInput!) { openDataSubjectRequest(input: $i) { id origin reason kind } }';
    const subjectId = (await stack.sql<{ id: string }>(`SELECT id FROM "${stack.schema('identity')}".subject WHERE sub = $1`, ['deadline-other']))[0].id;
    expect(codes(await stack.gql(open, { i: { subjectId, kind: 'EXPORT', reason: 'Because he phoned' } }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stack.gql(open, { i: { subjectId: '00000000-0000-4000-8000-000000000000', kind: 'EXPORT', reason: 'dsar-1' } }, { token: admin }))).toEqual(['NOT_FOUND']);
    expect(codes(await stack.gql(open, { i: { subjectId, kind: 'EXPORT', reason: 'dsar-1' } }, { token: other.token }))).toEqual(['FORBIDDEN']);
    const opened = await stack.gql(open, { i: { subjectId, kind: 'EXPORT', reason: 'dsar-1' } }, { token: admin });
    expectNoErrors(opened);
    expect(opened.data!.openDataSubjectRequest).toMatchObject({ origin: 'PLATFORM_ADMIN', reason: 'dsar-1', kind: 'EXPORT' });
    const audited = await stack.sql<{ action: string; field: string; purpose: string; actor_type: string }>(
      `SELECT action, field, purpose, actor_type FROM "${stack.schema('audit')}".audit_event WHERE action = 'DSR_OPEN' AND subject_id = $1`,
      [subjectId],
    );
    expect(audited).toEqual([{ action: 'DSR_OPEN', field: 'DataSubjectRequest.EXPORT', purpose: 'dsar-1', actor_type: 'PLATFORM_ADMIN' }]);
  });

  test('while an erasure is open no new shop receives the person\'s ref', async () => {
    const subject = await createSubject(stack, 'deadline-leaving', { email: 'leaving@example.com' }, []);
    const tenantId = await createTenant(stack, 'Late Shop');
    expectNoErrors(await stack.gql('mutation { requestErasure(reason: "no_longer_needed") { id } }', {}, { token: subject.token }));
    const connect = await stack.gql('mutation($t: ID!) { connectTenant(tenantId: $t) { ref } }', { t: tenantId }, { token: subject.token });
    expect(codes(connect)).toEqual(['FORBIDDEN']);
    const links = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schema('identity')}".tenant_link WHERE tenant_id = $1`, [tenantId]);
    expect(links[0].n).toBe(0);
    const connects = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schema('audit')}".audit_event WHERE action = 'TENANT_CONNECT' AND tenant_id = $1`, [tenantId]);
    expect(connects[0].n).toBe(0);
  });
});
