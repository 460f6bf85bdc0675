import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { qualifiedTable } from '../../../../../shared/db/data-source';
import type { AuditEventRow } from '../entities';

export interface ChainHead {
  seq: bigint;
  hash: Buffer | null;
}

export interface AuditQuery {
  tenantId?: string;
  subjectId?: string;
  action?: string;
  decision?: string;
  field?: string;
  purpose?: string;
  requestId?: string;
  since?: Date;
  until?: Date;
  beforeSeq?: string;
  limit: number;
}

const COLUMNS = [
  'seq', 'occurred_at', 'actor_type', 'actor_id', 'tenant_id', 'subject_id', 'action', 'field',
  'purpose', 'decision', 'reason', 'consent_id', 'request_id', 'prev_hash', 'hash',
] as const;
// Rows are read through the alias e; ORDER BY always names e.seq (the bigint), never the text output column.
const SELECT_LIST = `e.seq::text AS seq, e.occurred_at AS "occurredAt", e.actor_type AS "actorType", e.actor_id AS "actorId",
  e.tenant_id AS "tenantId", e.subject_id AS "subjectId", e.action, e.field, e.purpose, e.decision, e.reason,
  e.consent_id AS "consentId", e.request_id AS "requestId", e.prev_hash AS "prevHash", e.hash`;
/** PostgreSQL allows 65535 bind parameters per statement. */
const ROWS_PER_INSERT = Math.floor(65_000 / COLUMNS.length);
/** One writer at a time extends the chain, across processes too. */
const CHAIN_LOCK = createHash('sha256').update('privgraph:audit:chain').digest().readBigInt64BE(0).toString();

export type AuditRepository = ReturnType<typeof createAuditRepository>;

export function createAuditRepository(dataSource: DataSource) {
  const table = qualifiedTable(dataSource, 'audit_event');

  async function insertRows(manager: EntityManager, rows: AuditEventRow[]) {
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const chunk = rows.slice(start, start + ROWS_PER_INSERT);
      const params: unknown[] = [];
      const tuples = chunk.map((row) => {
        const values = [
          row.seq, row.occurredAt, row.actorType, row.actorId, row.tenantId, row.subjectId, row.action, row.field,
          row.purpose, row.decision, row.reason, row.consentId, row.requestId, row.prevHash, row.hash,
        ];
        const placeholders = values.map((value) => {
          params.push(value);
          return `$${params.length}`;
        });
        return `(${placeholders.join(', ')})`;
      });
      await manager.query(`INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, params);
    }
  }

  return {
    /**
     * Extends the chain in one transaction: lock, read the head, let `build` hash the new rows
     * from it, insert. Committed when the promise resolves.
     */
    async appendChained(build: (head: ChainHead) => AuditEventRow[]): Promise<number> {
      return dataSource.transaction(async (manager) => {
        await manager.query('SELECT pg_advisory_xact_lock($1::bigint)', [CHAIN_LOCK]);
        const [head] = (await manager.query(`SELECT e.seq::text AS seq, e.hash FROM ${table} e ORDER BY e.seq DESC LIMIT 1`)) as {
          seq: string;
          hash: Buffer;
        }[];
        const rows = build(head ? { seq: BigInt(head.seq), hash: head.hash } : { seq: 0n, hash: null });
        await insertRows(manager, rows);
        return rows.length;
      });
    },

    /** Newest first, keyset-paginated by seq. */
    async findEvents(query: AuditQuery): Promise<AuditEventRow[]> {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, value: unknown) => {
        params.push(value);
        where.push(`e.${sql.replace('?', `$${params.length}`)}`);
      };
      if (query.tenantId !== undefined) add('tenant_id = ?', query.tenantId);
      if (query.subjectId !== undefined) add('subject_id = ?', query.subjectId);
      if (query.action !== undefined) add('action = ?', query.action);
      if (query.decision !== undefined) add('decision = ?', query.decision);
      if (query.field !== undefined) add('field = ?', query.field);
      if (query.purpose !== undefined) add('purpose = ?', query.purpose);
      if (query.requestId !== undefined) add('request_id = ?', query.requestId);
      if (query.since !== undefined) add('occurred_at >= ?', query.since);
      if (query.until !== undefined) add('occurred_at < ?', query.until);
      if (query.beforeSeq !== undefined) add('seq < ?::bigint', query.beforeSeq);
      params.push(query.limit);
      return dataSource.query(
        `SELECT ${SELECT_LIST} FROM ${table} e ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY e.seq DESC LIMIT $${params.length}`,
        params,
      );
    },

    /** Ascending scan for verification. */
    scanAfter(afterSeq: string, limit: number): Promise<AuditEventRow[]> {
      return dataSource.query(`SELECT ${SELECT_LIST} FROM ${table} e WHERE e.seq > $1::bigint ORDER BY e.seq ASC LIMIT $2`, [
        afterSeq,
        limit,
      ]);
    },
  };
}
