import { startTestStack, TestClock, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, type Subject } from './kit/scenario';

const DAY = 86_400_000;

/**
 * Retention per tenant and legal holds: expired events leave the audit log by whole month partitions,
 * only once every event in the month has passed its retention and none is held, after verification,
 * an AUDIT_PURGE event and a signed checkpoint; the chain still verifies across the gap.
 */
describe('audit retention and legal hold', () => {
  let stack: TestStack;
  let admin: string;
  const clock = new TestClock();
  beforeAll(async () => {
    stack = await startTestStack({ clock, env: { AUDIT_RETENTION_DAYS: '60', AUDIT_RETENTION_INTERVAL_MS: '0', AUDIT_CHECKPOINT_INTERVAL_MS: '0' } });
    admin = await stack.tokens.admin();
  });
  afterAll(() => stack?.stop());

  const RUN = `mutation($r: String!) { runAuditRetention(reason: $r) {
    removed { name events fate } kept { name events fate holdIds removableAfter } checkpointSeq problem } }`;
  const runRetention = async () => {
    const response = await stack.gql(RUN, { r: 'retention-test' }, { token: admin });
    expectNoErrors(response);
    return response.data?.runAuditRetention;
  };
  const verify = async () => (await stack.gql('{ verifyAuditLog { ok problem firstBadSeq } }', {}, { token: admin })).data?.verifyAuditLog;
  const setRetention = (tenantId: string, days: number, token = admin, reason = 'contract-2026-4') =>
    stack.gql('mutation($t: ID!, $d: Int!, $r: String!) { setAuditRetention(tenantId: $t, days: $d, reason: $r) { tenantId days } }', { t: tenantId, d: days, r: reason }, { token });
  const partitionsNow = async () =>
    (await stack.sql<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`, [
      `"${stack.schemas.audit}".audit_event`,
    ])).map((r) => r.name);
  const monthOf = (date: Date) => `audit_event_${date.toISOString().slice(0, 4)}_${date.toISOString().slice(5, 7)}`;
  const readAs = async (tenantId: string, subject: Subject) =>
    stack.gql('query($r: ID!) { user(ref: $r) { email } }', { r: subject.refs[tenantId] }, { token: await stack.tokens.tenant(tenantId, ['pii:contact:read']), purpose: 'crm' });

  test('settings and holds: only a platform admin, with a reason code; any number of days; bad input refused; each audited', async () => {
    const shop = await createTenant(stack, 'Retention Settings Shop');
    expect((await setRetention(shop, 1234)).data?.setAuditRetention).toEqual({ tenantId: shop, days: 1234 });
    expect(codes(await setRetention(shop, 30, await stack.tokens.tenant(shop, ['tenant:admin'])))).toEqual(['FORBIDDEN']);
    expect((await setRetention(shop, 0)).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'days' });
    expect((await setRetention(shop, 36_501)).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'days' });
    expect((await setRetention(shop, 30, admin, 'because I said so')).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'reason' });
    expect((await setRetention('nope', 30)).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tenantId' });

    const HOLD = 'mutation($i: PlaceLegalHoldInput!) { placeLegalHold(input: $i) { id tenantId subjectId releasedAt } }';
    const both = await stack.gql(HOLD, { i: { tenantId: shop, subjectId: shop, reason: 'litigation-1' } }, { token: admin });
    expect(both.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input' });
    const held = await stack.gql(HOLD, { i: { tenantId: shop, reason: 'litigation-1' } }, { token: admin });
    expectNoErrors(held);
    const holdId = held.data?.placeLegalHold.id;
    const RELEASE = 'mutation($id: ID!) { releaseLegalHold(id: $id, reason: "litigation-1-closed") { id releasedAt releaseReason } }';
    expect(codes(await stack.gql(RELEASE, { id: '00000000-0000-4000-8000-000000000000' }, { token: admin }))).toEqual(['NOT_FOUND']);
    const released = await stack.gql(RELEASE, { id: holdId }, { token: admin });
    expect(released.data?.releaseLegalHold).toMatchObject({ id: holdId, releaseReason: 'litigation-1-closed', releasedAt: expect.any(String) });
    expect(codes(await stack.gql(RELEASE, { id: holdId }, { token: admin }))).toEqual(['CONFLICT']);

    const events = await auditEvents(stack, admin, { tenantId: shop });
    expect(events.map((e) => [e.action, e.field, e.purpose]).reverse()).toEqual([
      ['TENANT_CREATE', null, null],
      ['AUDIT_RETENTION_SET', 'AuditRetention.1234', 'contract-2026-4'],
      ['LEGAL_HOLD_PLACE', `LegalHold.${holdId.replace(/-/g, '')}`, 'litigation-1'],
      ['LEGAL_HOLD_RELEASE', `LegalHold.${holdId.replace(/-/g, '')}`, 'litigation-1-closed'],
    ]);
    const status = await stack.gql('{ auditRetention { defaultDays tenants { tenantId days } legalHolds { id releasedAt } } }', {}, { token: admin });
    expect(status.data?.auditRetention.defaultDays).toBe(60);
    expect(status.data?.auditRetention.tenants).toContainEqual({ tenantId: shop, days: 1234 });
    expect(codes(await stack.gql('{ auditRetention { defaultDays } }', {}, { token: await stack.tokens.tenant(shop, ['tenant:admin']) }))).toEqual(['FORBIDDEN']);
    // The settings are append-only like the log: history cannot be rewritten; the latest setting is in force.
    await expect(stack.sql(`UPDATE "${stack.schemas.audit}".audit_retention SET days = 1`)).rejects.toThrow(/write-once/);
    expectNoErrors(await setRetention(shop, 1));
    const latest = await stack.gql('{ auditRetention { tenants { tenantId days } } }', {}, { token: admin });
    expect(latest.data?.auditRetention.tenants).toContainEqual({ tenantId: shop, days: 1 });
  });

  test('a month goes only when all its events have passed their retention and none is held; the chain verifies across the gap', async () => {
    const short = await createTenant(stack, 'Short Retention Shop');
    const long = await createTenant(stack, 'Long Retention Shop');
    const subject = await createSubject(stack, 'retained', { email: 'retained@example.com' }, [short, long]);
    expectNoErrors(await setRetention(short, 30));
    expectNoErrors(await setRetention(long, 400));
    await readAs(short, subject);
    await readAs(long, subject);
    const firstMonth = monthOf(clock.now());
    const firstMonthEvents = Number(
      (await stack.sql<{ n: string }>(`SELECT count(*)::text AS n FROM "${stack.schemas.audit}"."${firstMonth}"`))[0].n,
    );

    // 70 days on: the month is over, the short tenant's and untenanted events (default 60 days) are due,
    // but the long tenant keeps the month for 400 days.
    clock.advance(70 * DAY);
    await readAs(short, subject);
    const kept = await runRetention();
    expect(kept.removed).toEqual([]);
    expect(kept.kept.find((p: { name: string }) => p.name === firstMonth)).toMatchObject({ fate: 'KEPT_RETENTION', events: firstMonthEvents });
    expect(await partitionsNow()).toContain(firstMonth);

    // The long tenant shortens its retention; a legal hold on the short tenant now keeps the month.
    expectNoErrors(await setRetention(long, 10));
    const hold = await stack.gql('mutation { placeLegalHold(input: { subjectId: null, tenantId: "' + short + '", reason: "litigation-7" }) { id } }', {}, { token: admin });
    expectNoErrors(hold);
    const held = await runRetention();
    expect(held.removed).toEqual([]);
    expect(held.kept.find((p: { name: string }) => p.name === firstMonth)).toMatchObject({ fate: 'KEPT_LEGAL_HOLD', holdIds: [hold.data?.placeLegalHold.id] });

    // Released: the month goes, after an AUDIT_PURGE event and a signed checkpoint.
    expectNoErrors(await stack.gql('mutation($id: ID!) { releaseLegalHold(id: $id, reason: "litigation-7-closed") { id } }', { id: hold.data?.placeLegalHold.id }, { token: admin }));
    const purged = await runRetention();
    expect(purged.problem).toBeNull();
    expect(purged.removed).toContainEqual({ name: firstMonth, events: firstMonthEvents, fate: 'REMOVED' });
    expect(purged.checkpointSeq).toBeGreaterThan(0);
    expect(await partitionsNow()).not.toContain(firstMonth);
    const purgeEvents = await auditEvents(stack, admin, { action: 'AUDIT_PURGE' });
    expect(purgeEvents.map((e) => [e.field, e.purpose])).toContainEqual([`AuditPartition.${firstMonth}`, 'retention-test']);
    expect(await verify()).toEqual({ ok: true, problem: null, firstBadSeq: null });
    const status = await stack.gql('{ auditRetention { purges { partition events record } } }', {}, { token: admin });
    expect(status.data?.auditRetention.purges).toEqual([{ partition: firstMonth, events: firstMonthEvents, record: expect.stringMatching(/^ey[\w-]+\.[\w-]+\.[\w-]+$/) }]);
    // The log keeps working: new events chain onto the head.
    await readAs(short, subject);
    expect(await verify()).toEqual({ ok: true, problem: null, firstBadSeq: null });

    // Removing events any other way is still caught, and a forged purge record does not verify.
    const [victim] = await stack.sql<{ seq: string }>(`SELECT min(seq)::text AS seq FROM "${stack.schemas.audit}".audit_event`);
    await stack.tamper(`DELETE FROM "${stack.schemas.audit}".audit_event WHERE seq = $1`, [victim.seq]);
    expect(await verify()).toMatchObject({ ok: false, problem: 'CHAIN_BROKEN', firstBadSeq: Number(victim.seq) });
    // While the log does not verify, retention removes nothing.
    clock.advance(70 * DAY);
    const refused = await runRetention();
    expect(refused).toMatchObject({ removed: [], problem: 'CHAIN_BROKEN' });
    await stack.tamper(
      `INSERT INTO "${stack.schemas.audit}".audit_purge (id, partition_name, range_from, range_to, events, purged_at, record)
       VALUES ('00000000-0000-4000-8000-000000000001', 'audit_event_1999_01', now(), now(), 1, now(), 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln')`,
    );
    expect(await verify()).toMatchObject({ ok: false, problem: 'PURGE_RECORD_INVALID' });
  });
});

describe('the scheduled retention job', () => {
  let stack: TestStack;
  const clock = new TestClock();
  beforeAll(async () => {
    stack = await startTestStack({ clock, env: { AUDIT_RETENTION_DAYS: '1', AUDIT_RETENTION_INTERVAL_MS: '200', AUDIT_CHECKPOINT_INTERVAL_MS: '0' } });
  });
  afterAll(() => stack?.stop());

  test('removes an expired month on its own and records AUDIT_PURGE with actor SYSTEM', async () => {
    await createTenant(stack, 'Scheduled Retention Shop');
    const month = `audit_event_${clock.now().toISOString().slice(0, 7).replace('-', '_')}`;
    clock.advance(70 * DAY);
    await createTenant(stack, 'Scheduled Retention Shop Later');
    const admin = await stack.tokens.admin();
    let purges: { partition: string }[] = [];
    for (let i = 0; i < 50 && purges.length === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      purges = (await stack.gql('{ auditRetention { purges { partition } } }', {}, { token: admin })).data?.auditRetention.purges ?? [];
    }
    expect(purges).toEqual([{ partition: month }]);
    const events = await stack.gql(
      '{ auditEvents(first: 5, filter: { action: AUDIT_PURGE }) { edges { node { actorType field purpose } } } }',
      {},
      { token: admin },
    );
    expect(events.data?.auditEvents.edges.map((e: { node: unknown }) => e.node)).toEqual([{ actorType: 'SYSTEM', field: `AuditPartition.${month}`, purpose: 'scheduled' }]);
    expect((await stack.gql('{ verifyAuditLog { ok } }', {}, { token: admin })).data?.verifyAuditLog.ok).toBe(true);
  });
});
