import { Client } from 'pg';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent, policyVersionFor, subjectIdByEmail } from './kit/scenario';

const EVENTS = `query($filter: AuditFilter) { auditEvents(first: 500, filter: $filter) {
  edges { node { seq action tenantId field purpose decision reason requestId outcome } } } }`;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

interface Event {
  seq: number;
  action: string;
  tenantId: string | null;
  field: string | null;
  purpose: string | null;
  decision: string;
  reason: string;
  requestId: string;
  outcome: string | null;
}

/** Audit entries state what happened: a failed action says it failed, and nothing is recorded about objects that do not exist. */
describe('audit outcomes', () => {
  let stack: TestStack;
  let admin: string;
  beforeAll(async () => {
    stack = await startTestStack({ env: { AUDIT_CHECKPOINT_INTERVAL_MS: '0' } });
    admin = await stack.tokens.admin();
  });
  afterAll(() => stack?.stop());

  const events = async (filter: Record<string, unknown>): Promise<Event[]> => {
    const response = await stack.gql(EVENTS, { filter }, { token: admin });
    expectNoErrors(response);
    return response.data?.auditEvents.edges.map((e: { node: Event }) => e.node);
  };
  const verify = async () => (await stack.gql('{ verifyAuditLog { ok firstBadSeq problem } }', {}, { token: admin })).data?.verifyAuditLog;

  test('rekeySubject and moveSubjectRegion on an unknown subject are NOT_FOUND and record nothing', async () => {
    const before = await events({ actorType: 'PLATFORM_ADMIN' });
    const rekey = await stack.gql('mutation($s: ID!) { rekeySubject(subjectId: $s, reason: "suspected-exposure") { generation } }', { s: UNKNOWN }, { token: admin });
    expect(codes(rekey)).toEqual(['NOT_FOUND']);
    const move = await stack.gql('mutation($s: ID!) { moveSubjectRegion(subjectId: $s, region: "eu", reason: "relocation") { subjectId } }', { s: UNKNOWN }, { token: admin });
    expect(codes(move)).toEqual(['NOT_FOUND']);
    const after = await events({ actorType: 'PLATFORM_ADMIN' });
    expect(after.map((e) => e.seq)).toEqual(before.map((e) => e.seq));
  });

  test('createTenant with an organization id another tenant answers to is refused and no TENANT_CREATE names a tenant that does not exist', async () => {
    const first = await stack.gql('mutation { createTenant(input: { name: "Org Shop", idpOrganizationId: "org-taken" }) { id } }', {}, { token: admin });
    expectNoErrors(first);
    const second = await stack.gql('mutation { createTenant(input: { name: "Org Shop Again", idpOrganizationId: "org-taken" }) { id } }', {}, { token: admin });
    expect(codes(second)).toEqual(['BAD_USER_INPUT']);
    expect(second.errors?.[0].extensions?.field).toBe('input.idpOrganizationId');
    const tenants = new Set((await stack.sql<{ id: string }>(`SELECT id FROM "${stack.schemas.identity}".tenant`)).map((t) => t.id));
    const created = await events({ action: 'TENANT_CREATE' });
    expect(created.length).toBeGreaterThan(0);
    for (const event of created) expect(tenants.has(event.tenantId as string)).toBe(true);
  });

  test('setAuditRetention and placeLegalHold refuse tenants and subjects that do not exist (NOT_FOUND with the field) and record nothing', async () => {
    const shop = await createTenant(stack, 'Retention Outcome Shop');
    await createSubject(stack, 'held-subject', { email: 'held-subject@example.com' }, [shop]);
    const subjectId = await subjectIdByEmail(stack, 'held-subject@example.com');
    const before = (await events({ actorType: 'PLATFORM_ADMIN' })).length;

    const retention = await stack.gql('mutation($t: ID!) { setAuditRetention(tenantId: $t, days: 30, reason: "contract-17") { days } }', { t: UNKNOWN }, { token: admin });
    expect(codes(retention)).toEqual(['NOT_FOUND']);
    expect(retention.errors?.[0].extensions?.field).toBe('tenantId');
    const PLACE = 'mutation($i: PlaceLegalHoldInput!) { placeLegalHold(input: $i) { id tenantId subjectId } }';
    const tenantHold = await stack.gql(PLACE, { i: { tenantId: UNKNOWN, reason: 'litigation-1' } }, { token: admin });
    expect(codes(tenantHold)).toEqual(['NOT_FOUND']);
    expect(tenantHold.errors?.[0].extensions?.field).toBe('input.tenantId');
    const subjectHold = await stack.gql(PLACE, { i: { subjectId: UNKNOWN, reason: 'litigation-1' } }, { token: admin });
    expect(codes(subjectHold)).toEqual(['NOT_FOUND']);
    expect(subjectHold.errors?.[0].extensions?.field).toBe('input.subjectId');
    expect((await events({ actorType: 'PLATFORM_ADMIN' })).length).toBe(before);
    const stored = await stack.sql<{ n: number }>(
      `SELECT (SELECT count(*) FROM "${stack.schemas.audit}".audit_retention) + (SELECT count(*) FROM "${stack.schemas.audit}".audit_legal_hold) AS n`,
    );
    expect(Number(stored[0].n)).toBe(0);

    // Tenants and subjects that exist are accepted.
    expectNoErrors(await stack.gql('mutation($t: ID!) { setAuditRetention(tenantId: $t, days: 30, reason: "contract-17") { days } }', { t: shop }, { token: admin }));
    const held = await stack.gql(PLACE, { i: { subjectId, reason: 'litigation-1' } }, { token: admin });
    expectNoErrors(held);
    expect(held.data?.placeLegalHold).toMatchObject({ subjectId, tenantId: null });
  });

  test('an action that fails after it was recorded leaves a FAILED outcome event: queryable, exported, covered by the hash chain', async () => {
    const shop = await createTenant(stack, 'Failing Retention Shop');
    const audit = `"${stack.schemas.audit}"`;
    // The setting's own write fails (as a full disk or a lost connection would) after its event was committed.
    await stack.sql(`CREATE FUNCTION ${audit}.refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$`);
    await stack.sql(`CREATE TRIGGER refuse_for_test BEFORE INSERT ON ${audit}.audit_retention FOR EACH ROW EXECUTE FUNCTION ${audit}.refuse_for_test()`);
    let failed;
    try {
      failed = await stack.gql('mutation($t: ID!) { setAuditRetention(tenantId: $t, days: 99, reason: "contract-18") { days } }', { t: shop }, { token: admin });
    } finally {
      await stack.sql(`DROP TRIGGER refuse_for_test ON ${audit}.audit_retention`);
      await stack.sql(`DROP FUNCTION ${audit}.refuse_for_test()`);
    }
    expect(codes(failed)).toEqual(['INTERNAL_SERVER_ERROR']);
    const requestId = failed.headers.get('x-request-id');
    const pair = await events({ requestId });
    expect(pair.map((e) => [e.action, e.field, e.decision, e.reason, e.outcome]).reverse()).toEqual([
      ['AUDIT_RETENTION_SET', 'AuditRetention.99', 'ALLOW', 'ADMIN', null],
      ['AUDIT_RETENTION_SET', 'AuditRetention.99', 'ALLOW', 'INTERNAL_SERVER_ERROR', 'FAILED'],
    ]);
    const [outcome] = pair;
    expect((await events({ outcome: 'FAILED' })).map((e) => e.seq)).toEqual([outcome.seq]);
    expect((await stack.sql(`SELECT 1 FROM ${audit}.audit_retention WHERE days = 99`)).length).toBe(0);

    // In the export, as its own column.
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const until = new Date(Date.now() + 60_000).toISOString();
    const exported = await fetch(`${stack.running.gateway.url}/audit/export?${new URLSearchParams({ format: 'jsonl', since, until })}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(exported.status).toBe(200);
    const lines = (await exported.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.filter((l) => l.requestId === requestId).map((l) => l.outcome)).toEqual([null, 'FAILED']);

    // The outcome is in the hash: erasing it (the owner's deliberate step) breaks the chain at that event.
    expect(await verify()).toMatchObject({ ok: true });
    await stack.tamper(`UPDATE ${audit}.audit_event SET outcome = NULL WHERE seq = $1`, [outcome.seq]);
    expect(await verify()).toMatchObject({ ok: false, problem: 'CHAIN_BROKEN', firstBadSeq: outcome.seq });
    await stack.tamper(`UPDATE ${audit}.audit_event SET outcome = 'FAILED' WHERE seq = $1`, [outcome.seq]);
    expect(await verify()).toMatchObject({ ok: true });
  });

  test("a failed admin operation on a subject shows in the subject's myAccessLog with outcome FAILED", async () => {
    await createSubject(stack, 'held-failing', { email: 'held-failing@example.com' }, []);
    const subjectId = await subjectIdByEmail(stack, 'held-failing@example.com');
    const audit = `"${stack.schemas.audit}"`;
    await stack.sql(`CREATE FUNCTION ${audit}.refuse_hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$`);
    await stack.sql(`CREATE TRIGGER refuse_hold BEFORE INSERT ON ${audit}.audit_legal_hold FOR EACH ROW EXECUTE FUNCTION ${audit}.refuse_hold()`);
    let hold;
    try {
      hold = await stack.gql('mutation($i: PlaceLegalHoldInput!) { placeLegalHold(input: $i) { id } }', { i: { subjectId, reason: 'litigation-2' } }, { token: admin });
    } finally {
      await stack.sql(`DROP TRIGGER refuse_hold ON ${audit}.audit_legal_hold`);
      await stack.sql(`DROP FUNCTION ${audit}.refuse_hold()`);
    }
    expect(codes(hold)).toEqual(['INTERNAL_SERVER_ERROR']);
    const log = await stack.gql('{ myAccessLog { edges { node { action accessorType purpose reason outcome } } } }', {}, { token: await stack.tokens.subject('held-failing') });
    expectNoErrors(log);
    const holds = log.data?.myAccessLog.edges.map((e: { node: unknown }) => e.node).filter((n: { action: string }) => n.action === 'LEGAL_HOLD_PLACE');
    expect(holds).toEqual([
      { action: 'LEGAL_HOLD_PLACE', accessorType: 'PLATFORM_ADMIN', purpose: 'litigation-2', reason: 'INTERNAL_SERVER_ERROR', outcome: 'FAILED' },
      { action: 'LEGAL_HOLD_PLACE', accessorType: 'PLATFORM_ADMIN', purpose: 'litigation-2', reason: 'ADMIN', outcome: null },
    ]);
  });

  test('a grant whose write fails after its event was recorded is followed by a FAILED CONSENT_GRANT from the consent service, and no consent exists', async () => {
    const shop = await createTenant(stack, 'Failing Grant Shop');
    const subject = await createSubject(stack, 'failing-grant', { email: 'failing-grant@example.com' }, [shop]);
    const version = await policyVersionFor(stack, shop, 'loyalty', ['CONTACT']);
    const consent = `"${stack.schemas.consent}"`;
    await stack.sql(`CREATE FUNCTION ${consent}.refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$`);
    await stack.sql(`CREATE TRIGGER refuse_for_test BEFORE INSERT ON ${consent}.consent FOR EACH ROW EXECUTE FUNCTION ${consent}.refuse_for_test()`);
    let grant;
    try {
      grant = await stack.gql(
        'mutation($t: ID!, $v: String!) { grantConsent(input: { tenantId: $t, purpose: "loyalty", categories: [CONTACT], policyVersion: $v }) { id } }',
        { t: shop, v: version },
        { token: subject.token },
      );
    } finally {
      await stack.sql(`DROP TRIGGER refuse_for_test ON ${consent}.consent`);
      await stack.sql(`DROP FUNCTION ${consent}.refuse_for_test()`);
    }
    expect(codes(grant)).toEqual(['INTERNAL_SERVER_ERROR']);
    const pair = await events({ requestId: grant.headers.get('x-request-id') });
    expect(pair.map((e) => [e.action, e.purpose, e.reason, e.outcome]).reverse()).toEqual([
      ['CONSENT_GRANT', 'loyalty', 'SELF', null],
      ['CONSENT_GRANT', 'loyalty', 'INTERNAL_SERVER_ERROR', 'FAILED'],
    ]);
    const stored = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${consent}.consent WHERE purpose = 'loyalty'`);
    expect(stored[0].n).toBe(0);
  });
});

/**
 * With the audit table locked longer than the callers wait, reads and grants are refused — and the
 * events they could not record are not written later either, when the lock lifts.
 */
const onPostgres = (process.env.PRIVGRAPH_TEST_DATABASE ?? '').startsWith('postgresql');

describe('audit appends that miss their caller’s deadline', () => {
  let stack: TestStack;
  let locker: Client;
  beforeAll(async () => {
    stack = await startTestStack({ env: { AUDIT_CHECKPOINT_INTERVAL_MS: '0', INTERNAL_TIMEOUT_MS: '800' } });
    locker = new Client({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
  });
  afterAll(async () => {
    await locker?.end();
    await stack?.stop();
  });

  // PostgreSQL only: the embedded PGlite ignores the append's lock_timeout (one WASM session serves every connection).
  (onPostgres ? test : test.skip)('a read refused with AUDIT_UNAVAILABLE leaves no ALLOW PII_READ, and a refused grant no CONSENT_GRANT and no consent', async () => {
    const shop = await createTenant(stack, 'Locked Log Shop');
    const reader = await createSubject(stack, 'locked-reader', { email: 'locked-reader@example.com' }, [shop]);
    await grantConsent(stack, reader, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
    const granter = await createSubject(stack, 'locked-granter', { email: 'locked-granter@example.com' }, [shop]);
    const version = await policyVersionFor(stack, shop, 'marketing', ['CONTACT']);
    const tenantToken = await stack.tokens.tenant(shop, ['pii:contact:read']);
    const READ = 'query($r: ID!) { user(ref: $r) { email } }';
    // Served while the log is writable.
    expect((await stack.gql(READ, { r: reader.refs[shop] }, { token: tenantToken, purpose: 'crm' })).data?.user.email).toBe('locked-reader@example.com');

    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${stack.schemas.audit}".audit_event IN ACCESS EXCLUSIVE MODE`);
    let read;
    let grant;
    try {
      [read, grant] = await Promise.all([
        stack.gql(READ, { r: reader.refs[shop] }, { token: tenantToken, purpose: 'crm' }),
        stack.gql(
          'mutation($t: ID!, $v: String!) { grantConsent(input: { tenantId: $t, purpose: "marketing", categories: [CONTACT], policyVersion: $v }) { id } }',
          { t: shop, v: version },
          { token: granter.token },
        ),
      ]);
      // Held well past the callers' timeout (800 ms) before it lifts.
      await new Promise((resolve) => setTimeout(resolve, 2500));
    } finally {
      await locker.query('COMMIT');
    }
    expect(read.data?.user?.email ?? null).toBeNull();
    expect(codes(read)).toContain('AUDIT_UNAVAILABLE');
    expect(codes(grant)).toEqual(['AUDIT_UNAVAILABLE']);

    // Give a writer that kept waiting every chance to commit late, then look.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const admin = await stack.tokens.admin();
    const written = async (requestId: string | null) =>
      (await stack.gql(EVENTS, { filter: { requestId } }, { token: admin })).data?.auditEvents.edges.map((e: { node: Event }) => e.node) as Event[];
    const readEvents = await written(read.headers.get('x-request-id'));
    expect(readEvents.filter((e) => e.action === 'PII_READ' && e.decision === 'ALLOW')).toEqual([]);
    expect(await written(grant.headers.get('x-request-id'))).toEqual([]);
    const grants = (await stack.gql(EVENTS, { filter: { action: 'CONSENT_GRANT', tenantId: shop } }, { token: admin })).data?.auditEvents.edges;
    expect(grants).toHaveLength(1); // the reader's, granted before the lock
    const consents = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.consent}".consent WHERE purpose = 'marketing'`);
    expect(consents[0].n).toBe(0);

    // The log is whole and writable again.
    expect((await stack.gql(READ, { r: reader.refs[shop] }, { token: tenantToken, purpose: 'crm' })).data?.user.email).toBe('locked-reader@example.com');
    expect((await stack.gql('{ verifyAuditLog { ok } }', {}, { token: admin })).data?.verifyAuditLog.ok).toBe(true);
  });
});
