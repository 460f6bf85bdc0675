import type { DataSource } from 'typeorm';
import { qualifiedTable, quoteIdent } from '../../../../../shared/db/data-source';

/** A month partition of the audit log, named audit_event_YYYY_MM (UTC). */
export interface AuditPartition {
  name: string;
  from: Date;
  to: Date;
}

/** A run of consecutive sequence numbers a partition held, and the chain hash of its last event. */
export interface SeqRun {
  from: string;
  to: string;
  lastHash: string;
}

export interface PartitionContents {
  events: number;
  /** When the last of its events passes its retention (null when empty). */
  keepUntil: Date | null;
  /** Active legal holds touching any of its events. */
  holdIds: string[];
}

export interface TenantRetention {
  tenantId: string;
  days: number;
  setAt: Date;
}

export interface LegalHold {
  id: string;
  tenantId: string | null;
  subjectId: string | null;
  reason: string;
  placedAt: Date;
  placedBy: string;
  releasedAt: Date | null;
  releaseReason: string | null;
}

export interface PurgeRow {
  id: string;
  partitionName: string;
  rangeFrom: Date;
  rangeTo: Date;
  events: number;
  purgedAt: Date;
  /** Compact JWS whose payload lists the removed runs. */
  record: string;
}

const PARTITION_NAME = /^audit_event_(\d{4})_(\d{2})$/;

export type RetentionRepository = ReturnType<typeof createRetentionRepository>;

/** Runs work as the schema owner (the application role may not remove anything from the audit log). */
export type OwnerRunner = <T>(work: (owner: DataSource) => Promise<T>) => Promise<T>;

export function createRetentionRepository(dataSource: DataSource, withOwner: OwnerRunner = (work) => work(dataSource)) {
  const schema = (dataSource.options as { schema: string }).schema;
  const t = (name: string) => qualifiedTable(dataSource, name);
  const partitionTable = (name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;
  const LATEST_RETENTION = `SELECT DISTINCT ON (tenant_id) tenant_id, days, set_at FROM ${t('audit_retention')} ORDER BY tenant_id, id DESC`;
  const ACTIVE_HOLDS = `SELECT h.id, h.tenant_id, h.subject_id FROM ${t('audit_legal_hold')} h
    WHERE NOT EXISTS (SELECT 1 FROM ${t('audit_legal_hold_release')} r WHERE r.hold_id = h.id)`;

  return {
    /** The month partitions there are, oldest first. */
    async listPartitions(): Promise<AuditPartition[]> {
      const rows: { name: string }[] = await dataSource.query(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY c.relname`,
        [t('audit_event')],
      );
      return rows.flatMap(({ name }) => {
        const match = PARTITION_NAME.exec(name);
        if (!match) return [];
        const [year, month] = [Number(match[1]), Number(match[2])];
        return [{ name, from: new Date(Date.UTC(year, month - 1, 1)), to: new Date(Date.UTC(year, month, 1)) }];
      });
    },

    // Read through the parent with the partition's bounds (pruned to that partition): the application
    // role has no privileges on partitions themselves.
    /** How many events a partition holds, until when the longest-kept of them must stay, and the holds on it. */
    async contentsOf(partition: AuditPartition, defaultDays: number): Promise<PartitionContents> {
      const [row]: { events: string; keepUntil: Date | null; holdIds: string[] | null }[] = await dataSource.query(
        `SELECT count(*)::text AS events,
                max(e.occurred_at + make_interval(days => coalesce(r.days, $1::int))) AS "keepUntil",
                (SELECT array_agg(DISTINCT h.id::text) FROM ${t('audit_event')} x
                   JOIN (${ACTIVE_HOLDS}) h ON h.tenant_id = x.tenant_id OR h.subject_id = x.subject_id
                  WHERE x.occurred_at >= $2 AND x.occurred_at < $3) AS "holdIds"
           FROM ${t('audit_event')} e
           LEFT JOIN (${LATEST_RETENTION}) r ON r.tenant_id = e.tenant_id
          WHERE e.occurred_at >= $2 AND e.occurred_at < $3`,
        [defaultDays, partition.from, partition.to],
      );
      return { events: Number(row.events), keepUntil: row.keepUntil, holdIds: row.holdIds ?? [] };
    },

    /** The partition's sequence numbers as runs of consecutive numbers (events near a month's edge may interleave). */
    seqRunsOf(partition: AuditPartition): Promise<SeqRun[]> {
      return dataSource.query(
        `SELECT min(seq)::text AS "from", max(seq)::text AS "to", encode((array_agg(hash ORDER BY seq DESC))[1], 'base64') AS "lastHash"
           FROM (SELECT seq, hash, seq - row_number() OVER (ORDER BY seq) AS run FROM ${t('audit_event')}
                  WHERE occurred_at >= $1 AND occurred_at < $2) numbered
          GROUP BY run ORDER BY min(seq)`,
        [partition.from, partition.to],
      );
    },

    /**
     * Records the purge and drops the partition in one transaction, as the schema owner. Under the
     * partition lock: of two replicas removing the same month, the second finds it gone (false).
     */
    async dropPartition(partition: AuditPartition, purge: PurgeRow): Promise<boolean> {
      return withOwner((owner) =>
        owner.transaction(async (manager) => {
          await manager.query(`SELECT pg_advisory_xact_lock(hashtext('privgraph:audit:partition'))`);
          const [{ present }] = await manager.query('SELECT to_regclass($1) IS NOT NULL AS present', [partitionTable(partition.name)]);
          if (!present) return false;
          await manager.query(
            `INSERT INTO ${t('audit_purge')} (id, partition_name, range_from, range_to, events, purged_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [purge.id, purge.partitionName, purge.rangeFrom, purge.rangeTo, purge.events, purge.purgedAt, purge.record],
          );
          await manager.query(`ALTER TABLE ${t('audit_event')} DETACH PARTITION ${partitionTable(partition.name)}`);
          await manager.query(`DROP TABLE ${partitionTable(partition.name)}`);
          return true;
        }),
      );
    },

    listPurges(): Promise<PurgeRow[]> {
      return dataSource.query(
        `SELECT id, partition_name AS "partitionName", range_from AS "rangeFrom", range_to AS "rangeTo", events::int AS events,
                purged_at AS "purgedAt", record
           FROM ${t('audit_purge')} ORDER BY range_from`,
      );
    },

    async insertRetention(tenantId: string, days: number, at: Date, by: string): Promise<void> {
      await dataSource.query(`INSERT INTO ${t('audit_retention')} (tenant_id, days, set_at, set_by) VALUES ($1, $2, $3, $4)`, [tenantId, days, at, by]);
    },

    listRetentions(): Promise<TenantRetention[]> {
      return dataSource.query(`SELECT tenant_id AS "tenantId", days, set_at AS "setAt" FROM (${LATEST_RETENTION}) r ORDER BY tenant_id`);
    },

    async insertHold(hold: Omit<LegalHold, 'releasedAt' | 'releaseReason'>): Promise<void> {
      await dataSource.query(
        `INSERT INTO ${t('audit_legal_hold')} (id, tenant_id, subject_id, reason, placed_at, placed_by) VALUES ($1, $2, $3, $4, $5, $6)`,
        [hold.id, hold.tenantId, hold.subjectId, hold.reason, hold.placedAt, hold.placedBy],
      );
    },

    /** Releases a hold once; false when it was already released. */
    async insertRelease(holdId: string, reason: string, at: Date, by: string): Promise<boolean> {
      const rows = await dataSource.query(
        `INSERT INTO ${t('audit_legal_hold_release')} (hold_id, reason, released_at, released_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (hold_id) DO NOTHING RETURNING hold_id`,
        [holdId, reason, at, by],
      );
      return rows.length === 1;
    },

    /** Active holds on the subject, or on a tenant under which the subject's events were recorded; and how many events there are. */
    async subjectEvidence(subjectId: string): Promise<{ holds: number; events: number }> {
      const [row]: { holds: number; events: number }[] = await dataSource.query(
        `SELECT (SELECT count(*)::int FROM (${ACTIVE_HOLDS}) h
                  WHERE h.subject_id = $1::uuid
                     OR (h.tenant_id IS NOT NULL AND EXISTS (SELECT 1 FROM ${t('audit_event')} e WHERE e.subject_id = $1::uuid AND e.tenant_id = h.tenant_id))) AS holds,
                (SELECT count(*)::int FROM ${t('audit_event')} WHERE subject_id = $1::uuid) AS events`,
        [subjectId],
      );
      return row;
    },

    listHolds(filter: { id?: string } = {}): Promise<LegalHold[]> {
      return dataSource.query(
        `SELECT h.id, h.tenant_id AS "tenantId", h.subject_id AS "subjectId", h.reason, h.placed_at AS "placedAt", h.placed_by AS "placedBy",
                r.released_at AS "releasedAt", r.reason AS "releaseReason"
           FROM ${t('audit_legal_hold')} h LEFT JOIN ${t('audit_legal_hold_release')} r ON r.hold_id = h.id
          WHERE $1::uuid IS NULL OR h.id = $1::uuid
          ORDER BY h.placed_at, h.id`,
        [filter.id ?? null],
      );
    },
  };
}
