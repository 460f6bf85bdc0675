import type { JobQueue, SqlExecutor } from '../../../../shared/jobs';
import type { Logger } from '../../../../shared/logger';
import type { WebhookRelay } from '../../../../shared/webhook-client';
import type { ConsentRepository, OutboxEvent } from '../db/repositories/consent-repository';
import type { OutboxRelayQueue } from './consent-service';

export const OUTBOX_RELAY_QUEUE = 'consent.webhook-relay';
/** How often the sweep looks for rows no job relayed (identity was down, a job was lost), and how old they must be. */
const SWEEP_INTERVAL_MS = 30_000;
const SWEEP_MIN_AGE_MS = 10_000;
const SWEEP_BATCH = 100;
const KEEP_RELAYED_MS = 24 * 60 * 60 * 1000;

/**
 * Relays consent's webhook outbox to identity (POST /internal/v1/webhooks/events), which stores and
 * delivers the events to the shops. Each row is relayed by a pg-boss job enqueued in the transaction
 * that wrote it; a failed relay is retried with backoff, and a periodic sweep relays any row still
 * unsent. Identity is idempotent by event id, so a row relayed twice is still one webhook.
 */
export function createOutboxRelay(deps: { repo: ConsentRepository; jobs: JobQueue; identity: WebhookRelay; now: () => Date; logger: Logger }) {
  const { repo, jobs, identity, now, logger } = deps;
  const log = logger.child({ component: 'consent.webhook-outbox' });
  let timer: NodeJS.Timeout | undefined;

  async function relay(events: OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const ids = events.map((e) => e.id);
    try {
      await identity.relay(events.map(({ id, tenantId, type, data }) => ({ id, tenantId, type, data: data as never })));
    } catch (error) {
      await repo.countOutboxAttempt(ids).catch(() => undefined);
      throw error;
    }
    await repo.markOutboxRelayed(ids, now());
  }

  async function sweep(): Promise<void> {
    const at = now();
    for (;;) {
      const unsent = await repo.findUnsentOutbox({ before: new Date(at.getTime() - SWEEP_MIN_AGE_MS), limit: SWEEP_BATCH });
      if (unsent.length === 0) break;
      await relay(unsent);
      log.info({ count: unsent.length }, 'outbox rows relayed by the sweep');
      if (unsent.length < SWEEP_BATCH) break;
    }
    await repo.purgeRelayedOutbox(new Date(at.getTime() - KEEP_RELAYED_MS));
  }

  const queue: OutboxRelayQueue = {
    enqueue: (tx: SqlExecutor, outboxId: string) =>
      jobs.send(OUTBOX_RELAY_QUEUE, { outboxId }, { tx, retryLimit: 20, retryDelay: 2, retryBackoff: true, expireInSeconds: 60 }),
  };

  return {
    queue,
    /** Registers the relay worker and starts the sweep. */
    async start(): Promise<void> {
      await jobs.work<{ outboxId: string }>(OUTBOX_RELAY_QUEUE, async (data) => relay(await repo.findUnsentOutbox({ ids: [data.outboxId] })));
      if (!timer) {
        timer = setInterval(() => {
          sweep().catch((error: unknown) => log.warn({ err: { name: (error as Error)?.name } }, 'outbox sweep failed; it runs again'));
        }, SWEEP_INTERVAL_MS);
        timer.unref();
      }
    },
    /** One sweep now (also what the timer runs). */
    sweep,
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
