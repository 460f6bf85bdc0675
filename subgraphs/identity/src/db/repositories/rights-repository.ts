import type { DataSource } from 'typeorm';
import type { SqlExecutor } from '../../../../../shared/jobs';
import { changedRows, qualifiedTable } from '../../../../../shared/db/data-source';
import { rethrowUniqueViolation } from '../../../../../shared/db/errors';
import type { DsrKind, DsrRecipientRow, DsrRow, DsrStatus, DsrStepRow } from '../entities/rights';

export type RightsRepository = ReturnType<typeof createRightsRepository>;

/** Anything that runs SQL: the data source, or the EntityManager of a transaction. */
type Sql = SqlExecutor;

export interface DsrFilter {
  kind?: DsrKind | null;
  status?: DsrStatus | null;
  /** Only open requests past their deadline (true) or not past it (false). */
  overdue?: boolean | null;
  subjectId?: string | null;
}

/** Keyset position in the admin queue: open requests first, then by deadline. */
export interface DsrQueuePosition {
  closed: boolean;
  dueAt: Date;
  id: string;
}

export function createRightsRepository(dataSource: DataSource) {
  const requests = qualifiedTable(dataSource, 'data_subject_request');
  const steps = qualifiedTable(dataSource, 'dsr_step');
  const recipients = qualifiedTable(dataSource, 'dsr_recipient');
  const subjects = qualifiedTable(dataSource, 'subject');
  const links = qualifiedTable(dataSource, 'tenant_link');
  const requestColumns = `id, subject_id AS "subjectId", kind, status, opened_by AS "openedBy", reason, received_at AS "receivedAt",
    due_at AS "dueAt", extended_months AS "extendedMonths", extension_reason AS "extensionReason",
    extension_notice_due_at AS "extensionNoticeDueAt", legal_hold AS "legalHold", idp_issuer AS "idpIssuer",
    idp_user_id AS "idpUserId", completed_at AS "completedAt", downloaded_at AS "downloadedAt"`;
  const stepColumns = `request_id AS "requestId", system, position, status, attempts, last_error AS "lastError", detail,
    updated_at AS "updatedAt", completed_at AS "completedAt"`;

  return {
    transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
      return dataSource.transaction((manager) => work(manager));
    },

    /** Throws UniqueViolation when the subject already has an open erasure (a concurrent request won). */
    async insertRequest(tx: Sql, row: DsrRow, stepRows: DsrStepRow[], recipientRows: DsrRecipientRow[]): Promise<void> {
      await tx
        .query(
          `INSERT INTO ${requests} (id, subject_id, kind, status, opened_by, reason, received_at, due_at, idp_issuer, idp_user_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [row.id, row.subjectId, row.kind, row.status, row.openedBy, row.reason, row.receivedAt, row.dueAt, row.idpIssuer, row.idpUserId],
        )
        .catch(rethrowUniqueViolation);
      for (const step of stepRows) {
        await tx.query(`INSERT INTO ${steps} (request_id, system, position, status, attempts, updated_at) VALUES ($1, $2, $3, $4, 0, $5)`, [
          step.requestId,
          step.system,
          step.position,
          step.status,
          step.updatedAt,
        ]);
      }
      for (const recipient of recipientRows) {
        await tx.query(`INSERT INTO ${recipients} (request_id, tenant_id, ref) VALUES ($1, $2, $3)`, [recipient.requestId, recipient.tenantId, recipient.ref]);
      }
    },

    async findRequest(id: string, tx: Sql = dataSource): Promise<DsrRow | null> {
      const rows = <DsrRow[]>await tx.query(`SELECT ${requestColumns} FROM ${requests} WHERE id = $1`, [id]);
      return rows[0] ?? null;
    },

    /** The request, locked for the rest of the transaction (one step of a request runs at a time). */
    async lockRequest(tx: Sql, id: string): Promise<DsrRow | null> {
      const rows = <DsrRow[]>await tx.query(`SELECT ${requestColumns} FROM ${requests} WHERE id = $1 FOR UPDATE`, [id]);
      return rows[0] ?? null;
    },

    async findOpenErasure(subjectId: string, tx: Sql = dataSource): Promise<DsrRow | null> {
      const rows = <DsrRow[]>await tx.query(
        `SELECT ${requestColumns} FROM ${requests} WHERE subject_id = $1 AND kind = 'ERASURE' AND completed_at IS NULL`,
        [subjectId],
      );
      return rows[0] ?? null;
    },

    /** Requests not completed yet, earliest deadline first, keyset-paged (the saga's sweep). */
    findOpenRequests(after: { dueAt: Date; id: string } | null, limit: number): Promise<DsrRow[]> {
      return dataSource.query(
        `SELECT ${requestColumns} FROM ${requests}
          WHERE completed_at IS NULL AND ($1::timestamptz IS NULL OR (due_at, id) > ($1::timestamptz, $2::uuid))
          ORDER BY due_at, id LIMIT $3`,
        [after?.dueAt ?? null, after?.id ?? null, limit],
      );
    },

    /** Adds the subject's current tenant links as recipients of the request; returns the ones added. */
    captureRecipients(requestId: string, subjectId: string, tx: Sql = dataSource): Promise<DsrRecipientRow[]> {
      return <Promise<DsrRecipientRow[]>>tx.query(
        `INSERT INTO ${recipients} (request_id, tenant_id, ref)
         SELECT $1, tenant_id, ref FROM ${links} WHERE subject_id = $2
         ON CONFLICT (request_id, tenant_id) DO NOTHING
         RETURNING request_id AS "requestId", tenant_id AS "tenantId", ref, erased_event_id AS "erasedEventId"`,
        [requestId, subjectId],
      );
    },

    findRequestsOfSubject(subjectId: string): Promise<DsrRow[]> {
      return dataSource.query(`SELECT ${requestColumns} FROM ${requests} WHERE subject_id = $1 ORDER BY received_at DESC, id`, [subjectId]);
    },

    /** The admin queue: open requests first, earliest deadline first (so overdue ones lead), keyset-paged. */
    pageRequests(filter: DsrFilter, now: Date, after: DsrQueuePosition | null, limit: number): Promise<DsrRow[]> {
      return dataSource.query(
        `SELECT ${requestColumns} FROM ${requests}
          WHERE ($1::text IS NULL OR kind = $1)
            AND ($2::text IS NULL OR status = $2)
            AND ($3::boolean IS NULL OR ((completed_at IS NULL AND due_at < $4) = $3))
            AND ($5::uuid IS NULL OR subject_id = $5)
            AND ($6::boolean IS NULL OR ((completed_at IS NOT NULL), due_at, id) > ($6, $7::timestamptz, $8::uuid))
          ORDER BY (completed_at IS NOT NULL), due_at, id
          LIMIT $9`,
        [filter.kind ?? null, filter.status ?? null, filter.overdue ?? null, now, filter.subjectId ?? null, after?.closed ?? null, after?.dueAt ?? null, after?.id ?? null, limit],
      );
    },

    async findSteps(requestIds: readonly string[], tx: Sql = dataSource): Promise<DsrStepRow[]> {
      if (requestIds.length === 0) return [];
      return <Promise<DsrStepRow[]>>tx.query(`SELECT ${stepColumns} FROM ${steps} WHERE request_id = ANY($1::uuid[]) ORDER BY request_id, position`, [requestIds]);
    },

    async updateStep(requestId: string, system: string, patch: Partial<Pick<DsrStepRow, 'status' | 'lastError' | 'detail' | 'completedAt'>> & { attempted?: boolean; updatedAt: Date }, tx: Sql = dataSource): Promise<void> {
      await tx.query(
        `UPDATE ${steps} SET status = COALESCE($3, status), last_error = CASE WHEN $4::boolean THEN $5 ELSE last_error END,
                detail = COALESCE($6, detail), completed_at = COALESCE($7, completed_at), updated_at = $8,
                attempts = attempts + CASE WHEN $9::boolean THEN 1 ELSE 0 END
          WHERE request_id = $1 AND system = $2`,
        [requestId, system, patch.status ?? null, 'lastError' in patch, patch.lastError ?? null, patch.detail ?? null, patch.completedAt ?? null, patch.updatedAt, patch.attempted ?? false],
      );
    },

    async markRequest(id: string, patch: { status: DsrStatus; completedAt?: Date | null; legalHold?: boolean }, tx: Sql = dataSource): Promise<void> {
      await tx.query(
        `UPDATE ${requests} SET status = $2, completed_at = COALESCE($3, completed_at), legal_hold = legal_hold OR $4 WHERE id = $1`,
        [id, patch.status, patch.completedAt ?? null, patch.legalHold ?? false],
      );
    },

    /** Adds months to the deadline unless that would exceed two in total; false when refused. */
    async extendRequest(id: string, months: number, reason: string, noticeDueAt: Date): Promise<DsrRow | null> {
      const rows = await changedRows<{ id: string }>(
        dataSource,
        `UPDATE ${requests} SET extended_months = extended_months + $2,
                due_at = (received_at AT TIME ZONE 'UTC' + make_interval(months => 1 + extended_months + $2)) AT TIME ZONE 'UTC',
                extension_reason = $3, extension_notice_due_at = COALESCE(extension_notice_due_at, $4)
          WHERE id = $1 AND completed_at IS NULL AND extended_months + $2 <= 2
          RETURNING id`,
        [id, months, reason, noticeDueAt],
      );
      return rows.length > 0 ? this.findRequest(id) : null;
    },

    /** The IdP account is deleted: forget which one it was. */
    async forgetIdpAccount(id: string, tx: Sql = dataSource): Promise<void> {
      await tx.query(`UPDATE ${requests} SET idp_issuer = NULL, idp_user_id = NULL WHERE id = $1`, [id]);
    },

    findRecipients(requestId: string, tx: Sql = dataSource): Promise<DsrRecipientRow[]> {
      return <Promise<DsrRecipientRow[]>>tx.query(
        `SELECT request_id AS "requestId", tenant_id AS "tenantId", ref, erased_event_id AS "erasedEventId" FROM ${recipients} WHERE request_id = $1 ORDER BY tenant_id`,
        [requestId],
      );
    },

    /** The erasure request a `subject.erased` notice belongs to. */
    async findRequestOfErasedEvent(eventId: string): Promise<string | null> {
      const rows: { requestId: string }[] = await dataSource.query(`SELECT request_id AS "requestId" FROM ${recipients} WHERE erased_event_id = $1 LIMIT 1`, [eventId]);
      return rows[0]?.requestId ?? null;
    },

    async setRecipientEvent(requestId: string, tenantId: string, eventId: string, tx: Sql = dataSource): Promise<void> {
      await tx.query(`UPDATE ${recipients} SET erased_event_id = $3 WHERE request_id = $1 AND tenant_id = $2`, [requestId, tenantId, eventId]);
    },

    /**
     * The identity step of an erasure: the subject becomes a tombstone whose issuer and `sub` no longer
     * name the account (so a later sign-in with the same account gets a new, empty subject and is never
     * mapped onto this record again), and its tenant links end. Idempotent.
     */
    async tombstoneSubject(subjectId: string, at: Date, tx: Sql = dataSource): Promise<{ linksEnded: number }> {
      await tx.query(
        `UPDATE ${subjects} SET status = 'ERASED', issuer = 'urn:privgraph:erased', sub = id::text, erased_at = COALESCE(erased_at, $2) WHERE id = $1`,
        [subjectId, at],
      );
      const ended = await changedRows(tx, `DELETE FROM ${links} WHERE subject_id = $1 RETURNING tenant_id`, [subjectId]);
      return { linksEnded: ended.length };
    },

    /** Which of these subjects are not yet tombstoned (erasure-ledger replay after a restore). */
    async findLiveSubjects(subjectIds: readonly string[]): Promise<string[]> {
      if (subjectIds.length === 0) return [];
      const rows: { id: string }[] = await dataSource.query(`SELECT id FROM ${subjects} WHERE id = ANY($1::uuid[]) AND status <> 'ERASED'`, [subjectIds]);
      return rows.map((row) => row.id);
    },
  };
}

export type { DsrRow, DsrStepRow, DsrRecipientRow };
