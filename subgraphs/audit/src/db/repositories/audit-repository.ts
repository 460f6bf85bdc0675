import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
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
  actorTypes?: string[];
  actorId?: string;
  action?: string;
  decision?: string;
  field?: string;
  purpose?: string;
  requestId?: string;
  outcome?: string;
  origin?: string;
  since?: Date;
  until?: Date;
  beforeSeq?: string;
  limit: number;
}

const COLUMNS = [
  'seq', 'occurred_at', 'actor_type', 'actor_id', 'tenant_id', 'subject_id', 'action', 'field',
  'purpose', 'decision', 'reason', 'consent_id', 'request_id', 'prev_hash', 'hash', 'outcome',
  'client_origin', 'user_agent_class',
] as const;
// Rows are read through the alias e; ORDER BY always names e.seq (the bigint), never the text output column.
const SELECT_LIST = `e.seq::text AS seq, e.occurred_at AS "occurredAt", e.actor_type AS "actorType", e.actor_id AS "actorId",
  e.tenant_id AS "tenantId", e.subject_id AS "subjectId", e.action, e.field, e.purpose, e.decision, e.reason,
  e.consent_id AS "consentId", e.request_id AS "requestId", e.prev_hash AS "prevHash", e.hash, e.outcome,
  e.client_origin AS "origin", e.user_agent_class AS "userAgentClass"`;
/** One writer at a time extends the chain, across processes too. */
const CHAIN_LOCK = createHash('sha256').update('privgraph:audit:chain').digest().readBigInt64BE(0).toString();

/** A value in COPY's text format (PostgreSQL docs, COPY, "Text Format"): \N for NULL, escapes for \\ tab CR LF. */
function copyValue(value: string | Buffer | null): string {
  if (value === null) return '\\N';
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`;
  return value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;

/** The append could not commit before its caller's deadline; nothing of it was written. */
export class AuditDeadlineExceeded extends Error {
  constructor() {
    super('the audit append could not commit before its deadline');
    this.name = 'AuditDeadlineExceeded';
  }
}

/** The UTC month an event's partition covers, e.g. 2026-11. */
const monthOf = (date: Date) => date.toISOString().slice(0, 7);

export function createAuditRepository(dataSource: DataSource) {
  const table = qualifiedTable(dataSource, 'audit_event');
  const partitionFunction = qualifiedTable(dataSource, 'audit_event_partition');
  /** Months whose partition this process has made sure of (one call per month, not per batch). */
  const partitionedMonths = new Set<string>();

  async function ensurePartitions(manager: EntityManager, rows: AuditEventRow[]) {
    for (const row of rows) {
      const month = monthOf(row.occurredAt);
      if (partitionedMonths.has(month)) continue;
      await manager.query(`SELECT ${partitionFunction}($1::timestamptz)`, [row.occurredAt]);
      partitionedMonths.add(month);
    }
  }

  // COPY is the fastest way in (about twice the rows per second of a batch INSERT here); the embedded
  // PGlite cannot take COPY FROM STDIN over its socket, so it gets the batch INSERT.
  // Asked on the transaction's own connection: PGlite has one session, so a second connection would wait for this one.
  let copySupported: boolean | undefined;
  const supportsCopy = async (manager: EntityManager) => {
    copySupported ??= !((await manager.query('SELECT version() AS version')) as { version: string }[])[0].version.includes('PGlite');
    return copySupported;
  };

  async function insertRows(manager: EntityManager, rows: AuditEventRow[]) {
    if (await supportsCopy(manager)) await copyRows(manager, rows);
    else await insertRowsUnnest(manager, rows);
  }

  async function copyRows(manager: EntityManager, rows: AuditEventRow[]) {
    const client = (await manager.queryRunner!.connect()) as PoolClient;
    const lines = rows.map((row) =>
      [
        row.seq, row.occurredAt.toISOString(), row.actorType, row.actorId, row.tenantId, row.subjectId, row.action, row.field,
        row.purpose, row.decision, row.reason, row.consentId, row.requestId, row.prevHash, row.hash, row.outcome ?? null,
        row.origin ?? null, row.userAgentClass ?? null,
      ]
        .map(copyValue)
        .join('\t'),
    );
    await pipeline(Readable.from([`${lines.join('\n')}\n`]), client.query(copyFrom(`COPY ${table} (${COLUMNS.join(', ')}) FROM STDIN`)));
  }

  /**
   * One INSERT per batch, whatever its size: each column travels as one array parameter and
   * unnest() turns them back into rows (one parameter per column instead of one per column and row).
   */
  async function insertRowsUnnest(manager: EntityManager, rows: AuditEventRow[]) {
    const column = <K extends keyof AuditEventRow>(key: K) => rows.map((row) => row[key]);
    await manager.query(
      `INSERT INTO ${table} (${COLUMNS.join(', ')})
       SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::text[],
                            $9::text[], $10::text[], $11::text[], $12::uuid[], $13::text[], $14::bytea[], $15::bytea[], $16::text[],
                            $17::text[], $18::text[])`,
      [
        column('seq'), column('occurredAt'), column('actorType'), column('actorId'), column('tenantId'), column('subjectId'),
        column('action'), column('field'), column('purpose'), column('decision'), column('reason'), column('consentId'),
        column('requestId'), column('prevHash'), column('hash'), rows.map((row) => row.outcome ?? null),
        rows.map((row) => row.origin ?? null), rows.map((row) => row.userAgentClass ?? null),
      ],
    );
  }

  return {
    /**
     * Extends the chain in one transaction: lock, read the head, let `build` hash the new rows
     * from it, insert. Committed when the promise resolves, which gives the new head.
     */
    async appendChained(build: (head: ChainHead) => AuditEventRow[], options: { deadline?: number } = {}): Promise<ChainHead> {
      const { deadline } = options;
      const remaining = () => (deadline === undefined ? Infinity : deadline - Date.now());
      if (remaining() <= 0) throw new AuditDeadlineExceeded();
      return dataSource.transaction(async (manager) => {
        if (deadline === undefined) {
          await manager.query('SELECT pg_advisory_xact_lock($1::bigint)', [CHAIN_LOCK]);
        } else {
          // Every later statement of this transaction (the head read, which waits for any table lock,
          // the partition, the insert) gives up when the deadline comes; set in the same round trip.
          const limit = `${Math.max(1, Math.floor(remaining()))}ms`;
          await manager.query(
            `SELECT set_config('lock_timeout', $2, true), set_config('statement_timeout', $2, true), pg_advisory_xact_lock($1::bigint)`,
            [CHAIN_LOCK, limit],
          );
        }
        const [head] = (await manager.query(`SELECT e.seq::text AS seq, e.hash FROM ${table} e ORDER BY e.seq DESC LIMIT 1`)) as {
          seq: string;
          hash: Buffer;
        }[];
        const current: ChainHead = head ? { seq: BigInt(head.seq), hash: head.hash } : { seq: 0n, hash: null };
        const rows = build(current);
        await ensurePartitions(manager, rows);
        await insertRows(manager, rows);
        // The waits above are bounded, but the advisory lock and the work between statements are not:
        // a batch whose earliest caller has already given up rolls back instead of committing late.
        if (remaining() <= 0) throw new AuditDeadlineExceeded();
        const last = rows.at(-1);
        return last ? { seq: BigInt(last.seq), hash: last.hash } : current;
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
      if (query.actorTypes !== undefined) add('actor_type = ANY(?::text[])', query.actorTypes);
      if (query.actorId !== undefined) add('actor_id = ?', query.actorId);
      if (query.action !== undefined) add('action = ?', query.action);
      if (query.decision !== undefined) add('decision = ?', query.decision);
      if (query.field !== undefined) add('field = ?', query.field);
      if (query.purpose !== undefined) add('purpose = ?', query.purpose);
      if (query.requestId !== undefined) add('request_id = ?', query.requestId);
      if (query.outcome !== undefined) add('outcome = ?', query.outcome);
      if (query.origin !== undefined) add('client_origin = ?', query.origin);
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

    /** The newest event's sequence number and hash (what a checkpoint signs). */
    async readHead(): Promise<ChainHead> {
      const [head] = (await dataSource.query(`SELECT e.seq::text AS seq, e.hash FROM ${table} e ORDER BY e.seq DESC LIMIT 1`)) as { seq: string; hash: Buffer }[];
      return head ? { seq: BigInt(head.seq), hash: head.hash } : { seq: 0n, hash: null };
    },

    /** A keyset page of a time range in (occurred_at, seq) order (export), optionally one tenant's. */
    scanRange(range: { after: { occurredAt: Date; seq: string } | null; since: Date; until: Date; tenantId: string | null; limit: number }): Promise<AuditEventRow[]> {
      return dataSource.query(
        `SELECT ${SELECT_LIST} FROM ${table} e
          WHERE e.occurred_at >= $1 AND e.occurred_at < $2 AND ($3::uuid IS NULL OR e.tenant_id = $3::uuid)
            AND ($4::timestamptz IS NULL OR (e.occurred_at, e.seq) > ($4::timestamptz, $5::bigint))
          ORDER BY e.occurred_at ASC, e.seq ASC LIMIT $6`,
        [range.since, range.until, range.tenantId, range.after?.occurredAt ?? null, range.after?.seq ?? '0', range.limit],
      );
    },

    /** Partitions may have been removed (retention): check again before the next write into a month. */
    forgetPartitions() {
      partitionedMonths.clear();
    },

    /** Sequence numbers held by more than one event (a forged row; verification names the first). */
    async duplicateSeqs(limit = 100): Promise<bigint[]> {
      const rows: { seq: string }[] = await dataSource.query(
        `SELECT e.seq::text AS seq FROM ${table} e GROUP BY e.seq HAVING count(*) > 1 ORDER BY e.seq LIMIT $1`,
        [limit],
      );
      return rows.map((row) => BigInt(row.seq));
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
