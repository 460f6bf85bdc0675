import type { DataSource } from 'typeorm';
import { changedRows, qualifiedTable } from '../../../../../shared/db/data-source';
import type { IdpEventRow, SubjectRow } from '../entities';

export type IdpEventRepository = ReturnType<typeof createIdpEventRepository>;

/** What a transaction-bound caller (the webhook outbox) may run inside the suspension transaction. */
export interface SqlRunner {
  query(sql: string, params?: unknown[]): Promise<any>;
}

export interface SuspensionTransaction {
  /** The transaction itself, for writes that must commit with the status change (webhook outbox). */
  tx: SqlRunner;
  /** Locks the subject row for the rest of the transaction; null when there is none. */
  lockSubject(subjectId: string): Promise<Pick<SubjectRow, 'id' | 'status'> | null>;
  isHandled(eventKey: string): Promise<boolean>;
  laterSuspensionHandled(subjectId: string, occurredAt: Date): Promise<boolean>;
  /** Sets ACTIVE or BLOCKED (never touches an ERASED subject); returns whether the status changed. */
  setSubjectStatus(subjectId: string, status: 'ACTIVE' | 'BLOCKED'): Promise<boolean>;
  /** The tenants the subject is connected to, with the ref each one knows. */
  linksOfSubject(subjectId: string): Promise<{ tenantId: string; ref: string }[]>;
  recordHandled(row: IdpEventRow): Promise<boolean>;
}

export function createIdpEventRepository(dataSource: DataSource) {
  const eventTable = qualifiedTable(dataSource, 'idp_event');
  const subjectTable = qualifiedTable(dataSource, 'subject');
  const linkTable = qualifiedTable(dataSource, 'tenant_link');

  const isHandled = async (runner: SqlRunner, eventKey: string) =>
    (await runner.query(`SELECT 1 FROM ${eventTable} WHERE event_key = $1`, [eventKey])).length > 0;

  /** Inserts unless the key is there already; true when this call recorded it. */
  const recordHandled = async (runner: SqlRunner, row: IdpEventRow) => {
    const inserted: unknown[] = await runner.query(
      `INSERT INTO ${eventTable} (event_key, provider, type, subject_id, outcome, occurred_at, handled_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_key) DO NOTHING RETURNING event_key`,
      [row.eventKey, row.provider, row.type, row.subjectId, row.outcome, row.occurredAt, row.handledAt],
    );
    return inserted.length > 0;
  };

  const laterSuspensionHandled = async (runner: SqlRunner, subjectId: string, occurredAt: Date) =>
    (
      await runner.query(
        `SELECT 1 FROM ${eventTable} WHERE subject_id = $1 AND type = 'User.SuspensionStatus.Updated' AND occurred_at > $2 LIMIT 1`,
        [subjectId, occurredAt],
      )
    ).length > 0;

  return {
    isHandled: (eventKey: string) => isHandled(dataSource, eventKey),

    recordHandled: (row: IdpEventRow) => recordHandled(dataSource, row),

    laterSuspensionHandled: (subjectId: string, occurredAt: Date) => laterSuspensionHandled(dataSource, subjectId, occurredAt),

    /** The subject bound to (issuer, sub), without provisioning one. */
    async findSubjectByBinding(issuer: string, sub: string): Promise<Pick<SubjectRow, 'id' | 'status'> | null> {
      const rows = await dataSource.query(`SELECT id, status FROM ${subjectTable} WHERE issuer = $1 AND sub = $2`, [issuer, sub]);
      return rows[0] ?? null;
    },

    /**
     * One transaction for a suspension change: everything in it (status, webhook outbox rows, the
     * handled event) commits together or not at all. All statements run on the transaction's own
     * connection, which the embedded single-session database requires.
     */
    inSuspensionTransaction<T>(work: (t: SuspensionTransaction) => Promise<T>): Promise<T> {
      return dataSource.transaction((manager) =>
        work({
          tx: manager,
          async lockSubject(subjectId) {
            const rows = await manager.query(`SELECT id, status FROM ${subjectTable} WHERE id = $1 FOR UPDATE`, [subjectId]);
            return rows[0] ?? null;
          },
          isHandled: (eventKey) => isHandled(manager, eventKey),
          laterSuspensionHandled: (subjectId, occurredAt) => laterSuspensionHandled(manager, subjectId, occurredAt),
          async setSubjectStatus(subjectId, status) {
            const changed = await changedRows(
              manager,
              `UPDATE ${subjectTable} SET status = $2 WHERE id = $1 AND status <> $2 AND status <> 'ERASED' RETURNING id`,
              [subjectId, status],
            );
            return changed.length > 0;
          },
          async linksOfSubject(subjectId) {
            return manager.query(`SELECT tenant_id AS "tenantId", ref FROM ${linkTable} WHERE subject_id = $1 ORDER BY tenant_id`, [subjectId]);
          },
          recordHandled: (row) => recordHandled(manager, row),
        }),
      );
    },
  };
}
