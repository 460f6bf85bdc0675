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
});
