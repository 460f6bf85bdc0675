import type { SqlExecutor } from '../../../../shared/jobs';
import type { Logger } from '../../../../shared/logger';
import { MAX_RELAY_EVENTS, type WebhookRelay } from '../../../../shared/webhook-client';
import type { ConsentRepository, OutboxEvent } from '../db/repositories/consent-repository';
import type { OutboxRelayQueue } from './consent-service';

/** How long after a change its outbox row is relayed: long enough for the change's transaction to commit. */
const FLUSH_DELAY_MS = 25;
/** The sweep relays every row still unsent after this age (identity was down, the process stopped, a flush ran too early). */
const SWEEP_INTERVAL_MS = 5_000;
const SWEEP_MIN_AGE_MS = 2_000;
/** As many as one relay call may carry (identity refuses more). */
const BATCH = MAX_RELAY_EVENTS;
const KEEP_RELAYED_MS = 24 * 60 * 60 * 1000;

/**
 * Relays consent's webhook outbox to identity (POST /internal/v1/webhooks/events), which stores the
 * events and delivers them to the shops with its job queue. The outbox row is written in the same
 * transaction as the consent change; shortly after, one flush relays every row written meanwhile in a
 * single call (a grant costs one INSERT here, not a job of its own), and a periodic sweep relays
 * whatever a flush missed or failed to send. Identity is idempotent by event id, so a row relayed
 * twice (two replicas, a retry) is still one webhook; a row is never lost, only delayed.
 */
export function createOutboxRelay(deps: { repo: ConsentRepository; identity: WebhookRelay; now: () => Date; logger: Logger }) {
  const { repo, identity, now, logger } = deps;
  const log = logger.child({ component: 'consent.webhook-outbox' });
  let timer: NodeJS.Timeout | undefined;
  let pending = new Set<string>();
  let scheduled: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let stopped = false;

  async function relay(events: OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const ids = events.map((e) => e.id);
    try {
      await identity.relay(events.map(({ id, tenantId, type, data, createdAt }) => ({ id, tenantId, type, data: data as never, occurredAt: new Date(createdAt).toISOString() })));
    } catch (error) {
      await repo.countOutboxAttempt(ids).catch(() => undefined);
      throw error;
    }
    await repo.markOutboxRelayed(ids, now());
  }

  async function flush(): Promise<void> {
    scheduled = undefined;
    const ids = [...pending];
    pending = new Set();
    for (let offset = 0; offset < ids.length; offset += BATCH) {
      // Rows whose transaction has not committed (or rolled back) are not found here; the sweep finds the committed ones.
      await relay(await repo.findUnsentOutbox({ ids: ids.slice(offset, offset + BATCH) }));
    }
  }

  const schedule = () => {
    if (scheduled || stopped) return;
    scheduled = setTimeout(() => {
      flushing = (flushing ?? Promise.resolve())
        .then(flush)
        .catch((error: unknown) => log.warn({ err: { name: (error as Error)?.name } }, 'outbox relay failed; the sweep relays the rows'))
        .finally(() => {
          flushing = undefined;
        });
    }, FLUSH_DELAY_MS);
    scheduled.unref();
  };

  let sweeping = false;
  async function sweep(): Promise<void> {
    // One sweep at a time: a slow relay must not let the next tick send the same rows again.
    if (sweeping) return;
    sweeping = true;
    try {
      await sweepOnce();
    } finally {
      sweeping = false;
    }
  }

  async function sweepOnce(): Promise<void> {
    const at = now();
    for (;;) {
      const unsent = await repo.findUnsentOutbox({ before: new Date(at.getTime() - SWEEP_MIN_AGE_MS), limit: BATCH });
      if (unsent.length === 0) break;
      await relay(unsent);
      log.info({ count: unsent.length }, 'outbox rows relayed by the sweep');
      if (unsent.length < BATCH) break;
    }
    await repo.purgeRelayedOutbox(new Date(at.getTime() - KEEP_RELAYED_MS));
  }

  const queue: OutboxRelayQueue = {
    // Called inside the change's transaction: nothing is written here, the row itself is the record.
    enqueue: async (_tx: SqlExecutor, outboxId: string) => {
      pending.add(outboxId);
      schedule();
    },
  };

  return {
    queue,
    /** Starts the sweep (and relays what an earlier run left unsent). */
    async start(): Promise<void> {
      stopped = false;
      if (!timer) {
        timer = setInterval(() => {
          sweep().catch((error: unknown) => log.warn({ err: { name: (error as Error)?.name } }, 'outbox sweep failed; it runs again'));
        }, SWEEP_INTERVAL_MS);
        timer.unref();
      }
    },
    /** One sweep now (also what the timer runs). */
    sweep,
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearInterval(timer);
      if (scheduled) clearTimeout(scheduled);
      timer = undefined;
      scheduled = undefined;
      await flushing;
    },
  };
}
