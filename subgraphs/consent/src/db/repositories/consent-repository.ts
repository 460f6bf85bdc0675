import { In, IsNull, type DataSource, type EntityManager } from 'typeorm';
import { changedRows, qualifiedTable } from '../../../../../shared/db/data-source';
import { rethrowAsDeadline, withinDeadline, type Deadline } from '../../../../../shared/deadline';
import type { SqlExecutor } from '../../../../../shared/jobs';
import { ConsentEntity, ConsentEventEntity, ConsentReceiptEntity, type ConsentEventRow, type ConsentEventType, type ConsentReceiptRow, type ConsentRow } from '../entities';

export interface ActiveGrant {
  subjectId: string;
  consentId: string;
  categories: string[];
}

export type ConsentRepository = ReturnType<typeof createConsentRepository>;

// Webhook outbox
export type OutboxEventType = 'consent.granted' | 'consent.withdrawn';

/** A webhook event waiting to be relayed to identity (refs and ids only, never personal data). */
export interface OutboxEvent {
  id: string;
  tenantId: string;
  type: OutboxEventType;
  data: Record<string, unknown>;
  createdAt: Date;
}

/** The outbox row written with a change, and the relay job enqueued in the same transaction. */
export interface OutboxWrite {
  event: (consent: ConsentRow, superseded: ConsentRow[]) => OutboxEvent;
  enqueue: (tx: SqlExecutor, outboxId: string) => Promise<unknown>;
}

export function createConsentRepository(dataSource: DataSource) {
  const consents = dataSource.getRepository(ConsentEntity);
  const consentTable = qualifiedTable(dataSource, 'consent');
  const outboxTable = qualifiedTable(dataSource, 'webhook_outbox');

  /** Writes the change's outbox row and its relay job inside the change's transaction. */
  async function writeOutbox(manager: EntityManager, outbox: OutboxWrite | null, consent: ConsentRow, superseded: ConsentRow[]) {
    if (!outbox) return;
    const event = outbox.event(consent, superseded);
    await manager.query(`INSERT INTO ${outboxTable} (id, tenant_id, type, data, created_at) VALUES ($1, $2, $3, $4::jsonb, $5)`, [
      event.id,
      event.tenantId,
      event.type,
      JSON.stringify(event.data),
      event.createdAt,
    ]);
    await outbox.enqueue(manager, event.id);
  }

  const historyOf = (consent: ConsentRow, type: ConsentEventType, occurredAt: Date) => ({
    consentId: consent.id,
    subjectId: consent.subjectId,
    tenantId: consent.tenantId,
    type,
    occurredAt,
    purpose: consent.purpose,
    categories: consent.categories,
    policyVersion: consent.policyVersion,
  });

  return {
    /**
     * One transaction: supersede the open consent for the same tenant and purpose, insert the new one,
     * its receipt and history. Grants for the same subject, tenant and purpose queue on a transaction
     * lock, so concurrent grants each supersede the one before instead of colliding; a grant that
     * `isDuplicate` of the open one is not stored (returns false).
     */
    async insertGrantSuperseding(
      consent: ConsentRow,
      receipt: ConsentReceiptRow,
      isDuplicate: (open: ConsentRow) => boolean,
      outbox: OutboxWrite | null = null,
      /** The request's: the transaction's statements and lock waits end by it (docs/security.md#deadlines). */
      deadline?: Deadline,
    ): Promise<boolean> {
      return dataSource.transaction((manager) => withinDeadline(manager, deadline, async () => {
        await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          `consent:${consent.subjectId}:${consent.tenantId}:${consent.purpose}`,
        ]);
        const open = await manager.getRepository(ConsentEntity).find({
          where: { subjectId: consent.subjectId, tenantId: consent.tenantId, purpose: consent.purpose, withdrawnAt: IsNull(), supersededAt: IsNull() },
          lock: { mode: 'pessimistic_write' },
        });
        if (open.some(isDuplicate)) return false;
        const events = manager.getRepository(ConsentEventEntity);
        for (const previous of open) {
          await manager.getRepository(ConsentEntity).update({ id: previous.id }, { supersededAt: consent.grantedAt });
          await events.insert(historyOf(previous, 'SUPERSEDED', consent.grantedAt));
        }
        await manager.getRepository(ConsentEntity).insert(consent);
        await events.insert(historyOf(consent, 'GRANTED', consent.grantedAt));
        await manager.getRepository(ConsentReceiptEntity).insert(receipt);
        await writeOutbox(manager, outbox, consent, open);
        return true;
      })).catch(rethrowAsDeadline);
    },

    /** Marks the subject's own consent withdrawn (once) and records it; returns the row, or null if not theirs. */
    async markConsentWithdrawn(
      id: string,
      subjectId: string,
      at: Date,
      receipt: ConsentReceiptRow | null,
      outbox: OutboxWrite | null = null,
      deadline?: Deadline,
    ): Promise<{ consent: ConsentRow; changed: boolean } | null> {
      return dataSource.transaction((manager) => withinDeadline(manager, deadline, async () => {
        const repo = manager.getRepository(ConsentEntity);
        const consent = await repo.findOne({ where: { id, subjectId }, lock: { mode: 'pessimistic_write' } });
        if (!consent) return null;
        if (consent.withdrawnAt !== null) return { consent, changed: false };
        consent.withdrawnAt = at;
        await repo.update({ id }, { withdrawnAt: at });
        await manager.getRepository(ConsentEventEntity).insert(historyOf(consent, 'WITHDRAWN', at));
        if (receipt) await manager.getRepository(ConsentReceiptEntity).insert(receipt);
        await writeOutbox(manager, outbox, consent, []);
        return { consent, changed: true };
      })).catch(rethrowAsDeadline);
    },

    findReceiptsByConsents(consentIds: readonly string[]): Promise<ConsentReceiptRow[]> {
      return dataSource.getRepository(ConsentReceiptEntity).find({ where: { consentId: In([...consentIds]) }, order: { issuedAt: 'ASC', kind: 'ASC' } });
    },

    /** A receipt by id, only if it belongs to this subject or tenant. */
    findReceipt(id: string, owner: { subjectId: string } | { tenantId: string }): Promise<ConsentReceiptRow | null> {
      return dataSource.getRepository(ConsentReceiptEntity).findOne({ where: { id, ...owner } });
    },

    /** Recorded history (GRANTED, WITHDRAWN, SUPERSEDED) of many subjects, oldest first. */
    findHistoryBySubjects(subjectIds: readonly string[], tenantId?: string): Promise<ConsentEventRow[]> {
      return dataSource.getRepository(ConsentEventEntity).find({
        where: { subjectId: In([...subjectIds]), ...(tenantId ? { tenantId } : {}) },
        order: { id: 'ASC' },
      });
    },

    findConsentsBySubjects(subjectIds: readonly string[], tenantId?: string): Promise<ConsentRow[]> {
      return consents.find({
        where: { subjectId: In([...subjectIds]), ...(tenantId ? { tenantId } : {}) },
        order: { grantedAt: 'DESC', id: 'ASC' },
      });
    },

    /** The consents in force at `at` for one tenant and purpose, for many subjects at once. */
    findActiveGrants(tenantId: string, purpose: string, subjectIds: readonly string[], at: Date): Promise<ActiveGrant[]> {
      return dataSource.query(
        `SELECT subject_id AS "subjectId", id AS "consentId", categories
           FROM ${consentTable}
          WHERE tenant_id = $1 AND purpose = $2 AND subject_id = ANY($3::uuid[])
            AND withdrawn_at IS NULL AND superseded_at IS NULL
            AND (expires_at IS NULL OR expires_at > $4)`,
        [tenantId, purpose, subjectIds, at],
      );
    },

    /** The distinct purpose keys of one subject's consents in force at `at` to one tenant, sorted (passports). */
    async findActivePurposes(tenantId: string, subjectId: string, at: Date): Promise<string[]> {
      const rows: { purpose: string }[] = await dataSource.query(
        `SELECT DISTINCT purpose
           FROM ${consentTable}
          WHERE tenant_id = $1 AND subject_id = $2
            AND withdrawn_at IS NULL AND superseded_at IS NULL
            AND (expires_at IS NULL OR expires_at > $3)
          ORDER BY purpose`,
        [tenantId, subjectId, at],
      );
      return rows.map((r) => r.purpose);
    },

    // Webhook outbox
    /** Unsent outbox rows by id (a relay job's) or the oldest unsent ones created before `before` (the sweep's). */
    findUnsentOutbox(selector: { ids: string[] } | { before: Date; limit: number }): Promise<OutboxEvent[]> {
      const columns = `id, tenant_id AS "tenantId", type, data, created_at AS "createdAt"`;
      if ('ids' in selector) {
        return dataSource.query(`SELECT ${columns} FROM ${outboxTable} WHERE id = ANY ($1::uuid[]) AND relayed_at IS NULL ORDER BY created_at, id`, [selector.ids]);
      }
      return dataSource.query(`SELECT ${columns} FROM ${outboxTable} WHERE relayed_at IS NULL AND created_at < $1 ORDER BY created_at, id LIMIT $2`, [
        selector.before,
        selector.limit,
      ]);
    },

    async markOutboxRelayed(ids: string[], at: Date): Promise<void> {
      await dataSource.query(`UPDATE ${outboxTable} SET relayed_at = $2, attempts = attempts + 1 WHERE id = ANY ($1::uuid[]) AND relayed_at IS NULL`, [ids, at]);
    },

    async countOutboxAttempt(ids: string[]): Promise<void> {
      await dataSource.query(`UPDATE ${outboxTable} SET attempts = attempts + 1 WHERE id = ANY ($1::uuid[]) AND relayed_at IS NULL`, [ids]);
    },

    /** Relayed rows are kept a day for diagnosis, then removed (identity holds the event from then on). */
    async purgeRelayedOutbox(before: Date): Promise<number> {
      return (await changedRows(dataSource, `DELETE FROM ${outboxTable} WHERE relayed_at < $1 RETURNING id`, [before])).length;
    },
  };
}
