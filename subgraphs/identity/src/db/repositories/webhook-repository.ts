import type { DataSource } from 'typeorm';
import { changedRows, qualifiedTable } from '../../../../../shared/db/data-source';
import type { SqlExecutor } from '../../../../../shared/jobs';
import type { WebhookDeliveryRow, WebhookDeliveryStatus, WebhookEndpointRow, WebhookEndpointStatus, WebhookEventRow } from '../entities/webhooks';

export type WebhookRepository = ReturnType<typeof createWebhookRepository>;

/** A delivery with what an attempt needs: the endpoint's address and secrets and the event. */
export interface ClaimedDelivery extends WebhookDeliveryRow {
  endpointStatus: WebhookEndpointStatus;
  url: string;
  secret: string | null;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  eventType: string;
  eventData: Record<string, unknown>;
  occurredAt: Date;
}

/** A delivery as the log shows it. */
export interface DeliveryLogRow extends WebhookDeliveryRow {
  eventType: string;
}

export interface EventDeliveryState {
  eventId: string;
  tenantId: string;
  deliveries: number;
  pending: number;
  failed: number;
  attempts: number;
  lastError: string | null;
}

/** Raw results differ by executor: TypeORM gives rows, a pg client a result with `rows`. */
function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}

const ENDPOINT_COLUMNS = `id, tenant_id AS "tenantId", url, description, events, status, secret, previous_secret AS "previousSecret",
  previous_secret_expires_at AS "previousSecretExpiresAt", created_at AS "createdAt", updated_at AS "updatedAt"`;

const DELIVERY_COLUMNS = (d: string) => `${d}.id, ${d}.event_id AS "eventId", ${d}.endpoint_id AS "endpointId", ${d}.tenant_id AS "tenantId",
  ${d}.status, ${d}.attempts, ${d}.cycle_attempts AS "cycleAttempts", ${d}.last_http_status AS "lastHttpStatus", ${d}.last_error AS "lastError",
  ${d}.last_attempt_at AS "lastAttemptAt", ${d}.next_attempt_at AS "nextAttemptAt", ${d}.deadline_at AS "deadlineAt",
  ${d}.lease_until AS "leaseUntil", ${d}.job_token AS "jobToken", ${d}.delivered_at AS "deliveredAt", ${d}.created_at AS "createdAt"`;

export function createWebhookRepository(dataSource: DataSource) {
  const endpoints = qualifiedTable(dataSource, 'webhook_endpoint');
  const events = qualifiedTable(dataSource, 'webhook_event');
  const deliveries = qualifiedTable(dataSource, 'webhook_delivery');

  return {
    /** Runs work in one transaction of identity's database (events, deliveries and their jobs commit together). */
    inTransaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      return dataSource.transaction((manager) => work(manager));
    },

    async insertEndpoint(row: WebhookEndpointRow): Promise<void> {
      await dataSource.query(
        `INSERT INTO ${endpoints} (id, tenant_id, url, description, events, status, secret, previous_secret, previous_secret_expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [row.id, row.tenantId, row.url, row.description, row.events, row.status, row.secret, row.previousSecret, row.previousSecretExpiresAt, row.createdAt, row.updatedAt],
      );
    },

    /** The tenant's endpoints that are not deleted, oldest first. */
    listEndpoints(tenantId: string): Promise<WebhookEndpointRow[]> {
      return dataSource.query(`SELECT ${ENDPOINT_COLUMNS} FROM ${endpoints} WHERE tenant_id = $1 AND status <> 'DELETED' ORDER BY created_at, id`, [tenantId]);
    },

    async findEndpoint(tenantId: string, id: string): Promise<WebhookEndpointRow | null> {
      const [row] = await dataSource.query(`SELECT ${ENDPOINT_COLUMNS} FROM ${endpoints} WHERE tenant_id = $1 AND id = $2 AND status <> 'DELETED'`, [tenantId, id]);
      return row ?? null;
    },

    async setEndpointStatus(tenantId: string, id: string, status: 'ENABLED' | 'DISABLED', at: Date): Promise<WebhookEndpointRow | null> {
      const [row] = await changedRows<WebhookEndpointRow>(
        dataSource,
        `UPDATE ${endpoints} SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND status <> 'DELETED' RETURNING ${ENDPOINT_COLUMNS}`,
        [tenantId, id, status, at],
      );
      return row ?? null;
    },

    /** The current secret becomes the previous one (valid until `previousExpiresAt`); `secret` signs from now on. */
    async rotateSecret(tenantId: string, id: string, secret: string, previousExpiresAt: Date, at: Date): Promise<WebhookEndpointRow | null> {
      const [row] = await changedRows<WebhookEndpointRow>(
        dataSource,
        `UPDATE ${endpoints} SET previous_secret = secret, previous_secret_expires_at = $4, secret = $3, updated_at = $5
          WHERE tenant_id = $1 AND id = $2 AND status <> 'DELETED' RETURNING ${ENDPOINT_COLUMNS}`,
        [tenantId, id, secret, previousExpiresAt, at],
      );
      return row ?? null;
    },

    /**
     * Deletes an endpoint: its secrets are wiped, the row stays (as DELETED) so the delivery log keeps
     * its history, and deliveries still pending end as FAILED (ENDPOINT_DELETED). Returns the events those
     * deliveries belonged to, or null when there was no such endpoint.
     */
    async deleteEndpoint(tenantId: string, id: string, at: Date): Promise<string[] | null> {
      return dataSource.transaction(async (manager) => {
        const [row] = await changedRows<{ id: string }>(
          manager,
          `UPDATE ${endpoints} SET status = 'DELETED', secret = NULL, previous_secret = NULL, previous_secret_expires_at = NULL, updated_at = $3
            WHERE tenant_id = $1 AND id = $2 AND status <> 'DELETED' RETURNING id`,
          [tenantId, id, at],
        );
        if (!row) return null;
        const ended = await changedRows<{ eventId: string }>(
          manager,
          `UPDATE ${deliveries} SET status = 'FAILED', last_error = 'ENDPOINT_DELETED', next_attempt_at = NULL, lease_until = NULL
            WHERE endpoint_id = $1 AND status = 'PENDING' RETURNING event_id AS "eventId"`,
          [id],
        );
        return [...new Set(ended.map((e) => e.eventId))];
      });
    },

    /** Inserts the event unless one with its id exists; true when it was new. In the caller's transaction. */
    async insertEvent(tx: SqlExecutor, event: WebhookEventRow): Promise<boolean> {
      const inserted = rowsOf(
        await tx.query(
          `WITH inserted AS (
             INSERT INTO ${events} (id, tenant_id, type, data, occurred_at) VALUES ($1, $2, $3, $4::jsonb, $5)
             ON CONFLICT (id) DO NOTHING RETURNING id)
           SELECT id FROM inserted`,
          [event.id, event.tenantId, event.type, JSON.stringify(event.data), event.occurredAt],
        ),
      );
      return inserted.length === 1;
    },

    /** An existing event's tenant and its number of deliveries (for an idempotent replay). */
    async findEventSummary(tx: SqlExecutor, eventId: string): Promise<{ tenantId: string; deliveries: number } | null> {
      const [row] = rowsOf<{ tenantId: string; deliveries: number }>(
        await tx.query(
          `SELECT e.tenant_id AS "tenantId", (SELECT count(*)::int FROM ${deliveries} d WHERE d.event_id = e.id) AS deliveries
             FROM ${events} e WHERE e.id = $1`,
          [eventId],
        ),
      );
      return row ?? null;
    },

    /** The tenant's enabled endpoints subscribed to this event type. */
    async findSubscribedEndpointIds(tx: SqlExecutor, tenantId: string, type: string): Promise<string[]> {
      const rows = rowsOf<{ id: string }>(
        await tx.query(`SELECT id FROM ${endpoints} WHERE tenant_id = $1 AND status = 'ENABLED' AND $2 = ANY (events) ORDER BY created_at, id`, [tenantId, type]),
      );
      return rows.map((r) => r.id);
    },

    async insertDelivery(
      tx: SqlExecutor,
      row: Pick<WebhookDeliveryRow, 'id' | 'eventId' | 'endpointId' | 'tenantId' | 'nextAttemptAt' | 'deadlineAt' | 'jobToken' | 'createdAt'>,
    ): Promise<void> {
      await tx.query(
        `INSERT INTO ${deliveries} (id, event_id, endpoint_id, tenant_id, status, attempts, cycle_attempts, next_attempt_at, deadline_at, job_token, created_at)
         VALUES ($1, $2, $3, $4, 'PENDING', 0, 0, $5, $6, $7, $8)`,
        [row.id, row.eventId, row.endpointId, row.tenantId, row.nextAttemptAt, row.deadlineAt, row.jobToken, row.createdAt],
      );
    },

    /**
     * Takes the next attempt of a pending delivery for the job holding its current token, and holds it
     * until `leaseUntil`, so a stale or duplicate job for the same delivery sends nothing. Null: nothing to do.
     */
    async claimAttempt(id: string, jobToken: string, at: Date, leaseUntil: Date): Promise<ClaimedDelivery | null> {
      const [row] = await dataSource.query(
        `WITH claimed AS (
           UPDATE ${deliveries} SET lease_until = $3
            WHERE id = $1 AND status = 'PENDING' AND (lease_until IS NULL OR lease_until < $2) AND job_token = $4
            RETURNING *)
         SELECT ${DELIVERY_COLUMNS('c')}, w.status AS "endpointStatus", w.url, w.secret, w.previous_secret AS "previousSecret",
                w.previous_secret_expires_at AS "previousSecretExpiresAt", e.type AS "eventType", e.data AS "eventData", e.occurred_at AS "occurredAt"
           FROM claimed c JOIN ${endpoints} w ON w.id = c.endpoint_id JOIN ${events} e ON e.id = c.event_id`,
        [id, at, leaseUntil, jobToken],
      );
      return row ?? null;
    },

    /**
     * Records an attempt's outcome and releases the lease. Only a delivery still PENDING changes: one that
     * ended meanwhile (its endpoint was deleted) stays as it is.
     */
    async recordAttempt(
      executor: SqlExecutor | null,
      id: string,
      outcome: { status: WebhookDeliveryStatus; at: Date; httpStatus: number | null; error: string | null; next: Date | null; attempted: boolean; jobToken?: string },
    ): Promise<void> {
      const runner = executor ?? dataSource;
      await runner.query(
        `UPDATE ${deliveries}
            SET status = $2, attempts = attempts + $7::int, cycle_attempts = cycle_attempts + $7::int,
                last_http_status = CASE WHEN $7::int = 1 THEN $4::int ELSE last_http_status END,
                last_error = $5, last_attempt_at = CASE WHEN $7::int = 1 THEN $3::timestamptz ELSE last_attempt_at END,
                next_attempt_at = $6, lease_until = NULL, job_token = COALESCE($8::uuid, job_token),
                delivered_at = CASE WHEN $2 = 'DELIVERED' THEN $3::timestamptz ELSE delivered_at END
          WHERE id = $1 AND status = 'PENDING'`,
        [id, outcome.status, outcome.at, outcome.httpStatus, outcome.error, outcome.next, outcome.attempted ? 1 : 0, outcome.jobToken ?? null],
      );
    },

    /** Pending deliveries of an event (0: it is settled). */
    async countPending(eventId: string): Promise<number> {
      const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM ${deliveries} WHERE event_id = $1 AND status = 'PENDING'`, [eventId]);
      return n;
    },

    async findDelivery(tenantId: string, id: string): Promise<DeliveryLogRow | null> {
      const [row] = await dataSource.query(
        `SELECT ${DELIVERY_COLUMNS('d')}, e.type AS "eventType" FROM ${deliveries} d JOIN ${events} e ON e.id = d.event_id WHERE d.tenant_id = $1 AND d.id = $2`,
        [tenantId, id],
      );
      return row ?? null;
    },

    /** The tenant's delivery log, newest first, keyset-paged on (created_at, id). */
    pageDeliveries(
      tenantId: string,
      filter: { endpointId?: string | null; status?: WebhookDeliveryStatus | null },
      limit: number,
      after: { createdAt: Date; id: string } | null,
    ): Promise<DeliveryLogRow[]> {
      const params: unknown[] = [tenantId, limit];
      const where = ['d.tenant_id = $1'];
      if (filter.endpointId) where.push(`d.endpoint_id = $${params.push(filter.endpointId)}`);
      if (filter.status) where.push(`d.status = $${params.push(filter.status)}`);
      if (after) where.push(`(d.created_at, d.id) < ($${params.push(after.createdAt)}::timestamptz, $${params.push(after.id)}::uuid)`);
      return dataSource.query(
        `SELECT ${DELIVERY_COLUMNS('d')}, e.type AS "eventType" FROM ${deliveries} d JOIN ${events} e ON e.id = d.event_id
          WHERE ${where.join(' AND ')} ORDER BY d.created_at DESC, d.id DESC LIMIT $2`,
        params,
      );
    },

    /**
     * Makes a delivery pending again for a new round of the schedule (same event, same webhook-id),
     * in a transaction the caller uses to enqueue its job. False when there is no such delivery or an
     * attempt of it is in flight.
     */
    async resetForRedelivery(
      tenantId: string,
      id: string,
      at: Date,
      deadline: Date,
      jobToken: string,
      enqueue: (tx: SqlExecutor) => Promise<unknown>,
    ): Promise<boolean> {
      return dataSource.transaction(async (manager) => {
        const [row] = await changedRows<{ id: string }>(
          manager,
          `UPDATE ${deliveries} SET status = 'PENDING', cycle_attempts = 0, next_attempt_at = $3, deadline_at = $4, lease_until = NULL, last_error = NULL, job_token = $5
            WHERE tenant_id = $1 AND id = $2 AND (lease_until IS NULL OR lease_until < $3) RETURNING id`,
          [tenantId, id, at, deadline, jobToken],
        );
        if (!row) return false;
        await enqueue(manager);
        return true;
      });
    },

    /** Per event: its tenant, how many deliveries it has and in which states. */
    async eventStates(eventIds: string[]): Promise<EventDeliveryState[]> {
      if (eventIds.length === 0) return [];
      return dataSource.query(
        `SELECT e.id AS "eventId", e.tenant_id AS "tenantId",
                count(d.id)::int AS deliveries,
                count(d.id) FILTER (WHERE d.status = 'PENDING')::int AS pending,
                count(d.id) FILTER (WHERE d.status = 'FAILED')::int AS failed,
                COALESCE(max(d.attempts), 0)::int AS attempts,
                (array_agg(d.last_error ORDER BY d.last_attempt_at DESC NULLS LAST) FILTER (WHERE d.last_error IS NOT NULL AND d.status <> 'DELIVERED'))[1] AS "lastError"
           FROM ${events} e LEFT JOIN ${deliveries} d ON d.event_id = e.id
          WHERE e.id = ANY ($1::text[])
          GROUP BY e.id, e.tenant_id`,
        [eventIds],
      );
    },

    /**
     * Retention: removes events older than `before` whose deliveries are all settled (or that had none),
     * with those deliveries. Events still pending stay, whatever their age. Returns how many events went.
     */
    async purgeSettledEvents(before: Date, limit: number): Promise<number> {
      return dataSource.transaction(async (manager) => {
        const old: { id: string }[] = await manager.query(
          `SELECT e.id FROM ${events} e
            WHERE e.occurred_at < $1
              AND NOT EXISTS (SELECT 1 FROM ${deliveries} d WHERE d.event_id = e.id AND d.status = 'PENDING')
            ORDER BY e.occurred_at LIMIT $2
            FOR UPDATE SKIP LOCKED`,
          [before, limit],
        );
        if (old.length === 0) return 0;
        const ids = old.map((row) => row.id);
        await manager.query(`DELETE FROM ${deliveries} WHERE event_id = ANY($1::text[])`, [ids]);
        await manager.query(`DELETE FROM ${events} WHERE id = ANY($1::text[])`, [ids]);
        return ids.length;
      });
    },

    /** Pending deliveries whose attempt is overdue and not held: their job was lost or is stuck. */
    async findOverdue(before: Date, at: Date, limit: number): Promise<{ id: string; jobToken: string }[]> {
      return dataSource.query(
        `SELECT id, job_token AS "jobToken" FROM ${deliveries} WHERE status = 'PENDING' AND next_attempt_at < $1 AND (lease_until IS NULL OR lease_until < $2)
          ORDER BY next_attempt_at LIMIT $3`,
        [before, at, limit],
      );
    },
  };
}
