import PgBoss from 'pg-boss';
import type { DatabaseConfig } from './config';
import { quoteIdent } from './db/data-source';
import type { Logger } from './logger';

/**
 * Background work (erasure steps, webhook deliveries, outbox relays) on pg-boss, in the service's own
 * database and a schema of its own (`<service schema>_jobs`), so no broker is needed and several
 * replicas can work side by side. Jobs survive a crash: a job whose worker died is retried after its
 * expiry, and a failed one is retried with the backoff it was sent with.
 */
export interface JobQueue {
  /** Registers a handler (and creates the queue). A handler that throws is retried per the job's options. */
  work<T extends object>(
    name: string,
    handler: (data: T, job: { id: string; retryCount: number }) => Promise<void>,
    options?: { concurrency?: number },
  ): Promise<void>;
  /**
   * Enqueues a job. With `tx`, the job is inserted by the caller's transaction (a transactional
   * outbox: the job exists if and only if the change that asked for it committed).
   */
  send<T extends object>(name: string, data: T, options?: SendOptions): Promise<string | null>;
  stop(): Promise<void>;
}

export interface SendOptions {
  /** Seconds from now, or a time. */
  startAfter?: number | Date;
  retryLimit?: number;
  /** Seconds before the first retry. */
  retryDelay?: number;
  /** Doubles the delay at each retry (with jitter). */
  retryBackoff?: boolean;
  /** Seconds a running job may take before it is considered dead and retried. */
  expireInSeconds?: number;
  tx?: SqlExecutor;
}

/** What pg-boss needs to run its INSERT inside another transaction. */
export interface SqlExecutor {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export interface JobQueueOptions {
  database: DatabaseConfig;
  logger: Logger;
  /** How often idle workers look for new jobs (pg-boss polls; default 2 s). */
  pollingIntervalSeconds?: number;
  /** How often pg-boss expires jobs whose worker died and retries them (default 60 s). */
  maintenanceIntervalSeconds?: number;
}

export function jobSchemaOf(database: DatabaseConfig): string {
  return `${database.schema}_jobs`;
}

export async function openJobQueue(options: JobQueueOptions): Promise<JobQueue> {
  const { database, logger } = options;
  const schema = jobSchemaOf(database);
  quoteIdent(schema);
  const boss = new PgBoss({
    connectionString: database.migrationUrl ?? database.url,
    schema,
    max: 2,
    application_name: `privgraph-jobs-${database.schema}`,
    // Cron schedules are not used; maintenance (expiry, archive) stays on.
    schedule: false,
    supervise: true,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 60,
  });
  // pg-boss reports transient database trouble here; it keeps retrying on its own.
  boss.on('error', (error: { code?: string; name?: string }) => logger.warn({ code: error?.code, name: error?.name }, 'job queue error'));
  await boss.start();
  const created = new Set<string>();
  // Standard queues only: pg-boss 10 cannot start a queued duplicate of a running job of a `stately`
  // queue and then holds every job behind it, so handlers are written to be run twice instead.
  const ensureQueue = async (name: string) => {
    if (created.has(name)) return;
    if (!(await boss.getQueue(name))) await boss.createQueue(name, { name, policy: 'standard' }).catch(async (error) => {
      // Another replica created it at the same moment.
      if (!(await boss.getQueue(name))) throw error;
    });
    created.add(name);
  };
  const pollingIntervalSeconds = options.pollingIntervalSeconds ?? 2;
  return {
    async work(name, handler, workOptions = {}) {
      await ensureQueue(name);
      const run = async (jobs: PgBoss.Job<object>[]) => {
        for (const job of jobs) {
          try {
            await handler(job.data as never, { id: job.id, retryCount: (job as { retryCount?: number }).retryCount ?? 0 });
          } catch (error) {
            logger.warn({ queue: name, job: job.id, err: { name: (error as Error)?.name, code: (error as { code?: unknown })?.code } }, 'job failed; it will be retried if it has retries left');
            throw error;
          }
        }
      };
      // A pg-boss worker runs one job at a time: several of them, so one slow job (a receiver that never answers) holds only one.
      for (let worker = 0; worker < (workOptions.concurrency ?? 1); worker += 1) await boss.work(name, { pollingIntervalSeconds, batchSize: 1 }, run);
    },
    async send(name, data, sendOptions = {}) {
      await ensureQueue(name);
      const { tx, ...rest } = sendOptions;
      const db = tx
        ? { executeSql: async (text: string, values?: unknown[]) => ({ rows: (await tx.query(text, values)) as unknown[] }) }
        : undefined;
      return boss.send(name, data, { ...rest, ...(db ? { db } : {}) } as PgBoss.SendOptions);
    },
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 5000 }).catch(() => undefined);
    },
  };
}
