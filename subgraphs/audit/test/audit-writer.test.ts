import { randomBytes, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { AuditEventInput } from '../../../shared/audit/events';
import { openDataSource } from '../../../shared/db/data-source';
import { entities } from '../src/db/entities';
import { migrations } from '../src/db/migrations';
import { createAuditRepository } from '../src/db/repositories/audit-repository';
import { verifyAuditLog } from '../src/services/verification';
import { createAuditWriter } from '../src/services/audit-writer';

/** The writer against real PostgreSQL: group commit, several writers on one chain, nothing lost. */
describe('audit writer', () => {
  let dataSource: DataSource;
  const schema = `t_writer_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    dataSource = await openDataSource({ database: { url: process.env.DATABASE_URL as string, schema, poolSize: 6 }, entities, migrations, applicationName: 'privgraph-audit-test' });
  });
  afterAll(async () => {
    await dataSource.query(`DROP SCHEMA "${schema}" CASCADE`);
    await dataSource.destroy();
  });

  const event = (i: number): AuditEventInput => ({
    occurredAt: new Date().toISOString(),
    actorType: 'TENANT',
    actorId: `client-${i}`,
    tenantId: randomUUID(),
    subjectId: randomUUID(),
    action: 'PII_READ',
    field: 'User.email',
    purpose: 'crm',
    decision: i % 3 ? 'ALLOW' : 'DENY',
    reason: i % 3 ? 'CONSENT' : 'CONSENT_REQUIRED',
    consentId: null,
    requestId: `req-${i}`,
  });

  test('two writers appending at once (as two audit replicas would) build one valid chain and lose nothing', async () => {
    const repo = createAuditRepository(dataSource);
    const writers = [createAuditWriter(repo), createAuditWriter(repo)];
    const appends = Array.from({ length: 120 }, (_, i) => writers[i % 2].append(Array.from({ length: 1 + (i % 7) }, (_, j) => event(i * 10 + j))));
    await Promise.all(appends);
    const expected = Array.from({ length: 120 }, (_, i) => 1 + (i % 7)).reduce((a, b) => a + b, 0);
    const [{ count }] = await dataSource.query(`SELECT count(*)::int AS count FROM "${schema}".audit_event`);
    expect(count).toBe(expected);
    const verification = await verifyAuditLog(repo, [], {});
    expect(verification).toEqual({ ok: true, checked: expected, firstBadSeq: null, checkpoints: 0, problem: null });
  });

  test('a failed batch rejects only its callers, and the next batch is chained onto what was committed', async () => {
    const repo = createAuditRepository(dataSource);
    const writer = createAuditWriter(repo);
    await writer.append([event(1)]);
    const bad = { ...event(2), tenantId: 'not-a-uuid' } as AuditEventInput;
    await expect(writer.append([bad])).rejects.toThrow();
    await writer.append([event(3), event(4)]);
    const verification = await verifyAuditLog(repo, [], {});
    expect(verification.ok).toBe(true);
  });

  test('an append is committed by its deadline or not at all: with the table locked it fails, and nothing of it appears when the lock lifts', async () => {
    const repo = createAuditRepository(dataSource);
    const writer = createAuditWriter(repo);
    const count = async () => (await dataSource.query(`SELECT count(*)::int AS count FROM "${schema}".audit_event`))[0].count as number;
    const before = await count();
    // Already past its deadline when it is queued: refused without being written.
    await expect(writer.append([event(5)], { deadline: Date.now() - 1 })).rejects.toThrow(/deadline/);
    const locker = dataSource.createQueryRunner();
    await locker.connect();
    await locker.startTransaction();
    await locker.query(`LOCK TABLE "${schema}".audit_event IN ACCESS EXCLUSIVE MODE`);
    // The lock lifts only after the deadline has passed (on the embedded database, whose one session the
    // locker holds, the append cannot even start before that; it must then roll back instead of committing).
    const late = writer.append([event(6), event(7)], { deadline: Date.now() + 300 });
    const settled = late.then(
      () => 'committed',
      () => 'refused',
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 600));
    } finally {
      await locker.commitTransaction();
      await locker.release();
    }
    expect(await settled).toBe('refused');
    expect(await count()).toBe(before);
    await writer.append([event(8)], { deadline: Date.now() + 5000 });
    expect(await count()).toBe(before + 1);
    expect((await verifyAuditLog(repo, [], {})).ok).toBe(true);
  });
  test("one member's short deadline does not fail the others: queued together, the long ones are committed, the short one is refused and not written", async () => {
    const repo = createAuditRepository(dataSource);
    const writer = createAuditWriter(repo);
    const requests = async (ids: string[]) =>
      ((await dataSource.query(`SELECT request_id AS id FROM "${schema}".audit_event WHERE request_id = ANY($1::text[]) ORDER BY request_id`, [ids])) as { id: string }[]).map((r) => r.id);
    const settle = (append: Promise<void>) =>
      append.then(
        () => 'committed',
        () => 'refused',
      );
    const locker = dataSource.createQueryRunner();
    await locker.connect();
    await locker.startTransaction();
    await locker.query(`LOCK TABLE "${schema}".audit_event IN ACCESS EXCLUSIVE MODE`);
    let first: Promise<string>[];
    let short: Promise<string>;
    let long: Promise<string>[];
    try {
      // Two appends take both transactions in flight and give up soon; the next three queue meanwhile
      // and are then written as one batch, whose first deadline is the short member's.
      first = [settle(writer.append([event(90020)], { deadline: Date.now() + 100 })), settle(writer.append([event(90021)], { deadline: Date.now() + 100 }))];
      long = [settle(writer.append([event(90022)], { deadline: Date.now() + 20_000 }))];
      short = settle(writer.append([event(90023)], { deadline: Date.now() + 400 }));
      long.push(settle(writer.append([event(90024), event(90025)], { deadline: Date.now() + 20_000 })));
      // The table stays locked past the short deadline (on the embedded database, whose one session the locker
      // holds, nothing can start before the lock lifts; the short member is then refused when its batch is formed).
      await Promise.race([short, new Promise((resolve) => setTimeout(resolve, 1000))]);
    } finally {
      await locker.commitTransaction();
      await locker.release();
    }
    expect(await Promise.all(first)).toEqual(['refused', 'refused']);
    expect(await short).toBe('refused');
    expect(await Promise.all(long)).toEqual(['committed', 'committed']);
    expect(await requests(['req-90020', 'req-90021', 'req-90022', 'req-90023', 'req-90024', 'req-90025'])).toEqual(['req-90022', 'req-90024', 'req-90025']);
    expect((await verifyAuditLog(repo, [], {})).ok).toBe(true);
  });
});
