import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import { auditedEffect, type ActionAuditor } from '../../../../shared/audit/actions';
import { isUuid } from '../../../../shared/db/data-source';
import { badInput, notFound, privgraphError } from '../../../../shared/errors';
import type { JobQueue, SqlExecutor } from '../../../../shared/jobs';
import { createSecretBox } from '../../../../shared/secret-box';
import type { Logger } from '../../../../shared/logger';
import type { WebhookSettings } from '../config';
import type { WebhookDeliveryStatus, WebhookEndpointRow } from '../db/entities/webhooks';
import { createWebhookRepository, type ClaimedDelivery, type DeliveryLogRow } from '../db/repositories/webhook-repository';
import { checkWebhookUrl, guardedLookup, parseWebhookUrl, type HostResolver, type WebhookUrlPolicy } from './webhook-url';

export type { WebhookSettings } from '../config';

/** The events a shop can subscribe to (docs/webhooks.md). */
export const WEBHOOK_EVENT_TYPES = ['subject.erasure_requested', 'subject.erased', 'consent.granted', 'consent.withdrawn', 'subject.blocked'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return typeof value === 'string' && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

export interface TenantEventInput {
  tenantId: string;
  type: WebhookEventType;
  /** Refs and ids only, never personal data. */
  data: Record<string, unknown>;
  /** Idempotency key, becomes the `webhook-id`: the same id again creates nothing new. */
  id?: string;
  /** When the change happened (a relayed event's own time); default now. */
  occurredAt?: Date;
}

export interface EmittedEvent {
  eventId: string;
  tenantId: string;
  /** Deliveries created for it (0: no enabled endpoint of the tenant subscribes to the type). */
  deliveries: number;
}

export type EventDeliveryState = 'PENDING' | 'DELIVERED' | 'FAILED' | 'NO_ENDPOINT';

/** Why an attempt failed, as the delivery log shows it (never the response body). */
export const DELIVERY_ERRORS = [
  'HTTP_STATUS',
  'TIMEOUT',
  'CONNECTION_REFUSED',
  'CONNECTION_RESET',
  'DNS_FAILURE',
  'TLS_FAILURE',
  'ADDRESS_REFUSED',
  'NETWORK_ERROR',
  'ENDPOINT_DISABLED',
  'ENDPOINT_DELETED',
  'SECRET_UNREADABLE',
] as const;
export type DeliveryError = (typeof DELIVERY_ERRORS)[number];

export const WEBHOOK_DELIVER_QUEUE = 'webhook.deliver';
/** Deliveries in flight at once per process: a tenant's endpoint that never answers holds one of them for the timeout. */
const DELIVERY_WORKERS = 4;
export const EVENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** How long the secret before a rotation keeps signing (receivers verify either during the overlap). */
export const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000;
const MAX_EVENTS_PER_EMIT = 1000;
const MAX_DATA_BYTES = 4096;
const MAX_PAGE = 100;
const MAX_DESCRIPTION = 500;
const MAX_ENDPOINTS_PER_TENANT = 20;
/** The response body is read (to free the socket) but never kept; more than this is cut off. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** How often the sweep looks for deliveries whose job was lost, and how late one must be. */
const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_GRACE_MS = 120_000;

export interface EndpointView {
  id: string;
  url: string;
  description: string | null;
  events: WebhookEventType[];
  status: 'ENABLED' | 'DISABLED';
  createdAt: Date;
  updatedAt: Date;
  previousSecretExpiresAt: Date | null;
}

export interface DeliveryView {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: WebhookEventType;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastHttpStatus: number | null;
  lastError: string | null;
  lastAttemptAt: Date | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

export interface Page<T> {
  edges: { node: T; cursor: string }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export type WebhookService = ReturnType<typeof createWebhookService>;

export interface WebhookServiceDeps {
  /** Identity's data source (the repository is built on it; the type comes from there, services do not import TypeORM). */
  dataSource: Parameters<typeof createWebhookRepository>[0];
  jobs: JobQueue;
  now: () => Date;
  settings: WebhookSettings;
  logger: Logger;
  /** DNS for the registration-time URL check (tests inject one). */
  resolve?: HostResolver;
}

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The payload a shop receives (Standard Webhooks: type, timestamp, data). */
export function webhookPayload(event: { type: string; occurredAt: Date; data: Record<string, unknown> }): string {
  return JSON.stringify({ type: event.type, timestamp: event.occurredAt.toISOString(), data: event.data });
}

/** `webhook-signature`: one `v1,<sig>` per secret in force, space-separated (a rotated-out secret signs for 24 h more). */
export function webhookSignature(secrets: string[], id: string, at: Date, payload: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(id, at, payload)).join(' ');
}

const viewOfEndpoint = (row: WebhookEndpointRow, at: Date): EndpointView => ({
  id: row.id,
  url: row.url,
  description: row.description,
  events: row.events.filter(isWebhookEventType),
  status: row.status === 'ENABLED' ? 'ENABLED' : 'DISABLED',
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
  previousSecretExpiresAt: row.previousSecretExpiresAt && row.previousSecretExpiresAt > at ? row.previousSecretExpiresAt : null,
});

const viewOfDelivery = (row: DeliveryLogRow): DeliveryView => ({
  id: row.id,
  endpointId: row.endpointId,
  eventId: row.eventId,
  eventType: row.eventType as WebhookEventType,
  status: row.status,
  attempts: row.attempts,
  lastHttpStatus: row.lastHttpStatus,
  lastError: row.lastError,
  lastAttemptAt: row.lastAttemptAt,
  nextAttemptAt: row.status === 'PENDING' ? row.nextAttemptAt : null,
  deliveredAt: row.deliveredAt,
  createdAt: row.createdAt,
});

/** Only primitive values and lists of them: a payload carries refs and ids, never nested personal records. */
function assertFlatData(data: unknown): asserts data is Record<string, unknown> {
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error('webhook event data must be an object');
  const primitive = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
  for (const value of Object.values(data)) {
    if (!primitive(value) && !(Array.isArray(value) && value.every(primitive))) throw new Error('webhook event data holds only ids, refs and lists of them');
  }
  if (Buffer.byteLength(JSON.stringify(data)) > MAX_DATA_BYTES) throw new Error('webhook event data is too large');
}

function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(`wd:${row.createdAt.toISOString()}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^wd:([0-9T:.\-Z]{20,30})\|([0-9a-f-]{36})$/.exec(decoded);
  const createdAt = match ? new Date(match[1]) : null;
  if (!match || !createdAt || Number.isNaN(createdAt.getTime()) || !isUuid(match[2])) throw badInput('after', 'after is not a cursor from this connection');
  return { createdAt, id: match[2] };
}

/** Maps a transport failure onto a delivery error code (the message and body are never kept). */
function errorCodeOf(error: unknown): DeliveryError {
  const code = String((error as { code?: unknown })?.code ?? '');
  if (code === 'ETIMEDOUT' || code === 'WEBHOOK_TIMEOUT') return 'TIMEOUT';
  if (code === 'ECONNREFUSED') return 'CONNECTION_REFUSED';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return 'CONNECTION_RESET';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') return 'DNS_FAILURE';
  if (code === 'EWEBHOOKADDRESS') return 'ADDRESS_REFUSED';
  if (code.startsWith('ERR_TLS') || code.startsWith('CERT_') || code.includes('SSL') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') {
    return 'TLS_FAILURE';
  }
  return 'NETWORK_ERROR';
}

interface AttemptResult {
  ok: boolean;
  httpStatus: number | null;
  error: DeliveryError | null;
}

/** One POST, no redirects followed, acknowledged by any 2xx within the timeout. */
function postWebhook(url: URL, headers: Record<string, string>, body: string, timeoutMs: number, policy: WebhookUrlPolicy): Promise<AttemptResult> {
  const payload = Buffer.from(body);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = transport.request(
      url,
      {
        method: 'POST',
        agent: false,
        lookup: guardedLookup(policy) as never,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length), 'user-agent': 'privgraph-webhooks/1' },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_RESPONSE_BYTES) response.destroy();
        });
        const done = () => finish(status >= 200 && status < 300 ? { ok: true, httpStatus: status, error: null } : { ok: false, httpStatus: status, error: 'HTTP_STATUS' });
        response.on('end', done);
        response.on('close', done);
        response.on('error', done);
      },
    );
    // The whole exchange (connect, send, answer) must fit in the timeout, not just each idle gap.
    const timer = setTimeout(() => {
      finish({ ok: false, httpStatus: null, error: 'TIMEOUT' });
      request.destroy();
    }, timeoutMs);
    request.on('error', (error) => finish({ ok: false, httpStatus: null, error: errorCodeOf(error) }));
    request.end(payload);
  });
}

/**
 * Webhooks to shops (GDPR Art. 19 notifications and everyday integration), after the Standard Webhooks
 * specification. Events are written to an outbox in the caller's transaction together with one delivery
 * per subscribed endpoint and its job, so an event exists exactly when the change it reports committed;
 * pg-boss workers deliver with the retry schedule for up to maxAgeHours.
 */
export function createWebhookService(deps: WebhookServiceDeps) {
  const { dataSource, jobs, now, settings, logger } = deps;
  const log = logger.child({ component: 'webhooks' });
  const repo = createWebhookRepository(dataSource);
  // Signing secrets are stored sealed (AES-256-GCM, bound to their endpoint): a database copy alone cannot forge webhooks.
  const box = createSecretBox(settings.secretKey, 'webhook signing secrets');
  const policy: WebhookUrlPolicy = { production: settings.production, allowPrivateUrls: settings.allowPrivateUrls };
  const listeners: ((eventId: string) => void)[] = [];
  const maxAgeMs = settings.maxAgeHours * 3_600_000;
  const jobOptions = { retryLimit: 5, retryDelay: 30, retryBackoff: true, expireInSeconds: Math.ceil(settings.timeoutMs / 1000) + 60 };
  let sweepTimer: NodeJS.Timeout | undefined;

  /** `delayMs` is relative: pg-boss counts it from the database's clock, whatever the service's clock says. */
  const enqueue = (deliveryId: string, jobToken: string, tx: SqlExecutor | undefined, delayMs = 0) =>
    jobs.send(WEBHOOK_DELIVER_QUEUE, { deliveryId, jobToken }, { ...jobOptions, ...(tx ? { tx } : {}), ...(delayMs > 0 ? { startAfter: Math.ceil(delayMs / 1000) } : {}) });

  async function notifySettled(eventIds: string[]) {
    for (const eventId of eventIds) {
      if ((await repo.countPending(eventId)) > 0) continue;
      for (const listener of listeners) {
        try {
          listener(eventId);
        } catch {
          log.warn({ eventId }, 'webhook settled listener failed');
        }
      }
    }
  }

  /** The delay before the next attempt after `attempts` attempts of this round; the last entry repeats. */
  const delayAfter = (attempts: number) => {
    const schedule = settings.retryScheduleSeconds;
    return schedule[Math.min(Math.max(attempts, 1), schedule.length) - 1] * 1000;
  };

  async function attempt(delivery: ClaimedDelivery): Promise<void> {
    const at = now();
    if (delivery.endpointStatus !== 'ENABLED' || !delivery.secret) {
      const error: DeliveryError = delivery.endpointStatus === 'DELETED' ? 'ENDPOINT_DELETED' : 'ENDPOINT_DISABLED';
      await repo.recordAttempt(null, delivery.id, { status: 'FAILED', at, httpStatus: null, error, next: null, attempted: false });
      log.info({ deliveryId: delivery.id, code: error }, 'webhook delivery ended: endpoint not enabled');
      await notifySettled([delivery.eventId]);
      return;
    }
    let secrets: string[];
    try {
      secrets = [box.open(delivery.secret, delivery.endpointId)];
      if (delivery.previousSecret && delivery.previousSecretExpiresAt && delivery.previousSecretExpiresAt > at) secrets.push(box.open(delivery.previousSecret, delivery.endpointId));
    } catch {
      // Sealed under another WEBHOOK_SECRET_KEY (changed, or a database restored under another key): nothing can be signed.
      await repo.recordAttempt(null, delivery.id, { status: 'FAILED', at, httpStatus: null, error: 'SECRET_UNREADABLE', next: null, attempted: false });
      log.error({ deliveryId: delivery.id, endpointId: delivery.endpointId, code: 'SECRET_UNREADABLE' }, 'webhook secret cannot be opened; rotate the endpoint secret');
      await notifySettled([delivery.eventId]);
      return;
    }
    const body = webhookPayload({ type: delivery.eventType, occurredAt: delivery.occurredAt, data: delivery.eventData });
    let result: AttemptResult;
    try {
      // Checked again at delivery time: the URL policy may have changed, and DNS is checked on connect.
      const url = parseWebhookUrl(delivery.url, policy);
      // The signed timestamp is the wall clock of the attempt, which receivers compare with their own
      // clock (Standard Webhooks replay protection); the service clock keeps business time.
      const sentAt = new Date();
      const headers = {
        'webhook-id': delivery.eventId,
        'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
        'webhook-signature': webhookSignature(secrets, delivery.eventId, sentAt, body),
      };
      result = await postWebhook(url, headers, body, settings.timeoutMs, policy);
    } catch {
      result = { ok: false, httpStatus: null, error: 'ADDRESS_REFUSED' };
    }
    const finishedAt = now();
    if (result.ok) {
      await repo.recordAttempt(null, delivery.id, { status: 'DELIVERED', at: finishedAt, httpStatus: result.httpStatus, error: null, next: null, attempted: true });
      log.info({ deliveryId: delivery.id, eventId: delivery.eventId, attempt: delivery.attempts + 1 }, 'webhook delivered');
      await notifySettled([delivery.eventId]);
      return;
    }
    const attemptsThisRound = delivery.cycleAttempts + 1;
    const deadline = delivery.deadlineAt.getTime();
    let next: Date | null = null;
    if (finishedAt.getTime() < deadline) next = new Date(Math.min(finishedAt.getTime() + delayAfter(attemptsThisRound), deadline));
    const outcome = { at: finishedAt, httpStatus: result.httpStatus, error: result.error, attempted: true };
    if (next) {
      // The failure and the job for the next attempt commit together: a crash loses neither.
      const jobToken = randomUUID();
      await repo.inTransaction(async (manager) => {
        await repo.recordAttempt(manager, delivery.id, { ...outcome, status: 'PENDING', next, jobToken });
        await enqueue(delivery.id, jobToken, manager, (next as Date).getTime() - finishedAt.getTime());
      });
      log.info({ deliveryId: delivery.id, code: result.error, httpStatus: result.httpStatus, attempt: delivery.attempts + 1 }, 'webhook attempt failed; retry scheduled');
    } else {
      await repo.recordAttempt(null, delivery.id, { ...outcome, status: 'FAILED', next: null });
      log.warn({ deliveryId: delivery.id, code: result.error, httpStatus: result.httpStatus, attempts: delivery.attempts + 1 }, 'webhook delivery failed for good');
      await notifySettled([delivery.eventId]);
    }
  }

  async function deliver(deliveryId: string, jobToken: string): Promise<void> {
    if (!isUuid(deliveryId) || !isUuid(jobToken)) return;
    const at = now();
    const claimed = await repo.claimAttempt(deliveryId, jobToken, at, new Date(at.getTime() + settings.timeoutMs + 30_000));
    if (!claimed) return;
    await attempt(claimed);
  }

  async function sweep(): Promise<void> {
    const at = now();
    const overdue = await repo.findOverdue(new Date(at.getTime() - SWEEP_GRACE_MS), at, 500);
    for (const { id, jobToken } of overdue) await enqueue(id, jobToken, undefined);
    if (overdue.length > 0) log.info({ count: overdue.length }, 'webhook deliveries re-enqueued by the sweep');
    // Retention: settled events (and their delivery log) go after WEBHOOK_RETENTION_DAYS; pending ones stay.
    const purged = await repo.purgeSettledEvents(new Date(at.getTime() - settings.retentionDays * 86_400_000), 1000);
    if (purged > 0) log.info({ count: purged }, 'settled webhook events removed after their retention');
  }

  /**
   * Stores the events in the caller's transaction (transactional outbox), with one delivery per enabled
   * endpoint of the tenant subscribed to the type, and enqueues their jobs in the same transaction.
   * An event whose id exists already creates nothing (idempotent); the id must then be the same tenant's.
   */
  async function emit(tx: SqlExecutor, events: TenantEventInput[]): Promise<EmittedEvent[]> {
    if (events.length > MAX_EVENTS_PER_EMIT) throw new Error('too many webhook events at once');
    const emitted: EmittedEvent[] = [];
    for (const input of events) {
      if (!isUuid(input.tenantId)) throw new Error('webhook event tenantId must be a tenant id');
      if (!isWebhookEventType(input.type)) throw new Error('unknown webhook event type');
      if (input.id !== undefined && !EVENT_ID_PATTERN.test(input.id)) throw new Error('webhook event id must be 1-128 letters, digits or _ . : -');
      assertFlatData(input.data);
      const occurredAt = input.occurredAt ?? now();
      const event = {
        id: input.id ?? `msg_${randomUUID().replace(/-/g, '')}`,
        tenantId: input.tenantId,
        type: input.type,
        data: { ...input.data, tenantId: input.tenantId },
        occurredAt,
      };
      if (!(await repo.insertEvent(tx, event))) {
        const existing = await repo.findEventSummary(tx, event.id);
        if (!existing || existing.tenantId !== input.tenantId) throw new Error('webhook event id already used for another tenant');
        emitted.push({ eventId: event.id, tenantId: existing.tenantId, deliveries: existing.deliveries });
        continue;
      }
      const endpointIds = await repo.findSubscribedEndpointIds(tx, input.tenantId, input.type);
      for (const endpointId of endpointIds) {
        const id = randomUUID();
        const jobToken = randomUUID();
        await repo.insertDelivery(tx, {
          id,
          eventId: event.id,
          endpointId,
          tenantId: input.tenantId,
          nextAttemptAt: occurredAt,
          deadlineAt: new Date(occurredAt.getTime() + maxAgeMs),
          jobToken,
          createdAt: occurredAt,
        });
        await enqueue(id, jobToken, tx);
      }
      emitted.push({ eventId: event.id, tenantId: input.tenantId, deliveries: endpointIds.length });
    }
    return emitted;
  }

  function ownEndpoint(row: WebhookEndpointRow | null): WebhookEndpointRow {
    if (!row) throw notFound('Webhook endpoint');
    return row;
  }

  const findOwnEndpoint = async (tenantId: string, id: string) => ownEndpoint(isUuid(id) ? await repo.findEndpoint(tenantId, id) : null);

  return {
    emit,

    /** Events relayed by another service's outbox (POST /internal/v1/webhooks/events), stored in one transaction. */
    relay(events: TenantEventInput[]): Promise<EmittedEvent[]> {
      return repo.inTransaction((manager) => emit(manager, events));
    },

    /** Each event's delivery state over all its deliveries (absent: unknown event id). */
    async deliveryStates(eventIds: string[]): Promise<Map<string, { tenantId: string; state: EventDeliveryState; attempts: number; lastError: string | null }>> {
      const valid = [...new Set(eventIds.filter((id) => EVENT_ID_PATTERN.test(id)))];
      const rows = await repo.eventStates(valid);
      return new Map(
        rows.map((row) => {
          const state: EventDeliveryState =
            row.deliveries === 0 ? 'NO_ENDPOINT' : row.pending > 0 ? 'PENDING' : row.failed > 0 ? 'FAILED' : 'DELIVERED';
          return [row.eventId, { tenantId: row.tenantId, state, attempts: row.attempts, lastError: row.lastError }];
        }),
      );
    },

    /** Called (in this process) when every delivery of an event has reached DELIVERED or FAILED. */
    onSettled(listener: (eventId: string) => void): void {
      listeners.push(listener);
    },

    /** Registers the delivery worker and the sweep for deliveries whose job was lost. */
    async start(): Promise<void> {
      await jobs.work<{ deliveryId: string; jobToken: string }>(WEBHOOK_DELIVER_QUEUE, (data) => deliver(data.deliveryId, data.jobToken), { concurrency: DELIVERY_WORKERS });
      if (!sweepTimer) {
        sweepTimer = setInterval(() => {
          sweep().catch((error: unknown) => log.warn({ err: { name: (error as Error)?.name, code: (error as { code?: unknown })?.code } }, 'webhook sweep failed'));
        }, SWEEP_INTERVAL_MS);
        sweepTimer.unref();
      }
    },

    /** Stops the sweep (the job queue is stopped by its owner). */
    /** One sweep now (re-enqueue lost deliveries, apply retention); also what the timer runs. */
    sweep,

    stop(): void {
      if (sweepTimer) clearInterval(sweepTimer);
      sweepTimer = undefined;
    },

    /* Tenant admin operations; the caller's tenant is the scope of every one. */

    async createEndpoint(
      tenantId: string,
      input: { url: string; events: readonly string[]; description?: string | null },
      audit: ActionAuditor,
    ): Promise<{ endpoint: EndpointView; secret: string }> {
      const url = (await checkWebhookUrl(input.url, policy, deps.resolve)).toString();
      if (url.length > 2048) throw badInput('input.url', 'url must be at most 2048 characters');
      const events = [...new Set(input.events)];
      if (events.length === 0 || !events.every(isWebhookEventType)) throw badInput('input.events', 'events must name at least one event type');
      const description = input.description?.trim() || null;
      if (description && description.length > MAX_DESCRIPTION) throw badInput('input.description', `description must be at most ${MAX_DESCRIPTION} characters`);
      if ((await repo.listEndpoints(tenantId)).length >= MAX_ENDPOINTS_PER_TENANT) {
        throw badInput('input.url', `a tenant may register at most ${MAX_ENDPOINTS_PER_TENANT} endpoints; delete one first`);
      }
      const at = now();
      const secret = newWebhookSecret();
      const endpointId = randomUUID();
      const row: WebhookEndpointRow = {
        id: endpointId,
        tenantId,
        url,
        description,
        events,
        status: 'ENABLED',
        secret: box.seal(secret, endpointId),
        previousSecret: null,
        previousSecretExpiresAt: null,
        createdAt: at,
        updatedAt: at,
      };
      return auditedEffect(audit, 'WEBHOOK_ENDPOINT_CREATE', { tenantId, field: `WebhookEndpoint.${row.id}` }, async () => {
        await repo.insertEndpoint(row);
        return { endpoint: viewOfEndpoint(row, at), secret };
      });
    },

    async listEndpoints(tenantId: string): Promise<EndpointView[]> {
      const at = now();
      return (await repo.listEndpoints(tenantId)).map((row) => viewOfEndpoint(row, at));
    },

    async setEndpointEnabled(tenantId: string, id: string, enabled: boolean, audit: ActionAuditor): Promise<EndpointView> {
      await findOwnEndpoint(tenantId, id);
      return auditedEffect(audit, 'WEBHOOK_ENDPOINT_UPDATE', { tenantId, field: `WebhookEndpoint.${id}` }, async () => {
        const at = now();
        return viewOfEndpoint(ownEndpoint(await repo.setEndpointStatus(tenantId, id, enabled ? 'ENABLED' : 'DISABLED', at)), at);
      });
    },

    /** A new secret (shown once); the old one keeps signing, next to it, for 24 hours. */
    async rotateSecret(tenantId: string, id: string, audit: ActionAuditor): Promise<{ endpoint: EndpointView; secret: string }> {
      await findOwnEndpoint(tenantId, id);
      return auditedEffect(audit, 'WEBHOOK_ENDPOINT_UPDATE', { tenantId, field: `WebhookEndpoint.${id}` }, async () => {
        const at = now();
        const secret = newWebhookSecret();
        const row = ownEndpoint(await repo.rotateSecret(tenantId, id, box.seal(secret, id), new Date(at.getTime() + SECRET_OVERLAP_MS), at));
        return { endpoint: viewOfEndpoint(row, at), secret };
      });
    },

    async deleteEndpoint(tenantId: string, id: string, audit: ActionAuditor): Promise<string> {
      await findOwnEndpoint(tenantId, id);
      const settled = await auditedEffect(audit, 'WEBHOOK_ENDPOINT_DELETE', { tenantId, field: `WebhookEndpoint.${id}` }, async () => {
        const result = await repo.deleteEndpoint(tenantId, id, now());
        if (!result) throw notFound('Webhook endpoint');
        return result;
      });
      await notifySettled(settled);
      return id;
    },

    async pageDeliveries(
      tenantId: string,
      args: { endpointId?: string | null; status?: WebhookDeliveryStatus | null; first?: number | null; after?: string | null },
    ): Promise<Page<DeliveryView>> {
      const limit = args.first ?? 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badInput('first', `first must be between 1 and ${MAX_PAGE}`);
      if (args.endpointId && !isUuid(args.endpointId)) return { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };
      const after = args.after ? decodeCursor(args.after) : null;
      const rows = await repo.pageDeliveries(tenantId, { endpointId: args.endpointId, status: args.status }, limit + 1, after);
      const edges = rows.slice(0, limit).map((row) => ({ node: viewOfDelivery(row), cursor: encodeCursor(row) }));
      return { edges, pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
    },

    /** Sends a delivery again with the same webhook-id, starting a fresh round of the retry schedule. */
    async redeliver(tenantId: string, deliveryId: string, audit: ActionAuditor): Promise<DeliveryView> {
      const existing = isUuid(deliveryId) ? await repo.findDelivery(tenantId, deliveryId) : null;
      if (!existing) throw notFound('Webhook delivery');
      const endpoint = await repo.findEndpoint(tenantId, existing.endpointId);
      if (!endpoint) throw badInput('deliveryId', 'the endpoint of this delivery was deleted');
      if (endpoint.status !== 'ENABLED') throw badInput('deliveryId', 'the endpoint of this delivery is disabled; enable it first');
      return auditedEffect(audit, 'WEBHOOK_REDELIVER', { tenantId, field: `WebhookDelivery.${deliveryId}` }, async () => {
        const at = now();
        const jobToken = randomUUID();
        if (!(await repo.resetForRedelivery(tenantId, deliveryId, at, new Date(at.getTime() + maxAgeMs), jobToken, (tx) => enqueue(deliveryId, jobToken, tx)))) {
          throw privgraphError('CONFLICT', 'an attempt of this delivery is in progress; redeliver when it is done');
        }
        return viewOfDelivery((await repo.findDelivery(tenantId, deliveryId)) as DeliveryLogRow);
      });
    },
  };
}
