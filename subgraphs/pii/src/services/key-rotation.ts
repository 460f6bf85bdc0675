import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isUuid } from '../../../../shared/db/data-source';
import { UniqueViolation } from '../../../../shared/db/errors';
import { badInput, privgraphError } from '../../../../shared/errors';
import { componentLogger } from '../../../../shared/logger';
import { checkText } from '../../../../shared/validation';
import type { DataKeyRow, KeyRotationRow } from '../db/entities';
import type { RotationRepository } from '../db/repositories/rotation-repository';
import { dekAad } from './crypto';
import type { DataKeyCache } from './data-key-cache';
import { KeyServiceError, type WrappedKey } from './key-provider';
import type { RegionStore } from './vault-service';

export interface RotationHooks {
  /** Called after each committed batch; a throw acts like a crash of the worker (tests). */
  afterBatch?: (job: KeyRotationRow) => Promise<void>;
}

export type KeyRotationService = ReturnType<typeof createKeyRotationService>;

const logger = componentLogger('pii.rotation');

/**
 * KEK rotation without downtime. Rotating creates a new KEK version (new wraps use it at once, old
 * versions still decrypt) and a job that re-wraps every data key below it, in batches. The job row
 * holds the progress, a cursor and a lease: any pii replica can run it, and a crashed worker's job is
 * taken over when its lease expires and resumes after the last committed batch. Reads and writes go
 * on meanwhile: a re-wrap changes only the wrapped form, never the data key itself.
 */
export function createKeyRotationService(deps: {
  rotations: RotationRepository;
  stores: ReadonlyMap<string, RegionStore>;
  cache: DataKeyCache;
  now: () => Date;
  batchSize: number;
  pollMs: number;
  leaseMs: number;
  hooks?: RotationHooks;
}) {
  const { rotations, stores, cache, now } = deps;
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const leaseFromNow = () => new Date(now().getTime() + deps.leaseMs);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopping = false;

  const storeOf = (region: string) => {
    const store = stores.get(region);
    if (!store) throw privgraphError('REGION_UNSUPPORTED', `Region ${region} is not configured`, { field: 'region' });
    return store;
  };

  /** Re-wraps a batch; if the provider refuses some keys, isolates them one by one and counts them as failed. */
  async function rewrap(store: RegionStore, rows: DataKeyRow[]): Promise<(WrappedKey | null)[]> {
    const items = rows.map((row) => ({ wrapped: row.wrapped, context: dekAad(row.subjectId) }));
    try {
      return await store.kek.rewrapMany(items);
    } catch (error) {
      if (error instanceof KeyServiceError) throw error;
    }
    const results: (WrappedKey | null)[] = [];
    for (const item of items) {
      try {
        results.push((await store.kek.rewrapMany([item]))[0]);
      } catch (error) {
        if (error instanceof KeyServiceError) throw error;
        results.push(null);
      }
    }
    return results;
  }

  async function processJob(job: KeyRotationRow): Promise<void> {
    const store = storeOf(job.region);
    let current = job;
    for (;;) {
      if (stopping) {
        await rotations.releaseRotation(current.id, owner);
        return;
      }
      const cursor = current.cursorSubject ? { subjectId: current.cursorSubject, generation: current.cursorGeneration ?? 0 } : null;
      const rows = await store.keys.keysBelowVersion(current.targetVersion, cursor, deps.batchSize);
      let failed = current.failed;
      if (rows.length > 0) {
        const results = await rewrap(store, rows);
        await store.keys.replaceWrapped(
          rows.flatMap((row, i) => {
            const result = results[i];
            return result ? [{ subjectId: row.subjectId, generation: row.generation, previous: row.wrapped, wrapped: result.wrapped, kekVersion: result.version }] : [];
          }),
        );
        failed += results.filter((r) => r === null).length;
      }
      // Progress is read back from the key store, so a batch redone after a crash is never counted twice.
      const remaining = await store.keys.countBelowVersion(current.targetVersion);
      const last = rows.at(-1);
      const finished = rows.length === 0;
      const progress = {
        done: Math.max(0, current.total - remaining),
        failed,
        cursorSubject: last?.subjectId ?? current.cursorSubject,
        cursorGeneration: last?.generation ?? current.cursorGeneration,
        updatedAt: now(),
        leaseUntil: leaseFromNow(),
        ...(finished ? { status: failed > 0 ? ('FAILED' as const) : ('COMPLETED' as const), finishedAt: now(), errorCode: failed > 0 ? 'KEY_INTEGRITY' : null } : {}),
      };
      if (!(await rotations.recordProgress(current.id, owner, progress))) {
        logger.warn({ job: current.id }, 'lost the lease of a key rotation; another worker continues it');
        return;
      }
      current = { ...current, ...progress, status: progress.status ?? 'RUNNING' } as KeyRotationRow;
      if (finished) {
        logger.info({ job: current.id, region: current.region, done: current.done, failed }, 'key rotation finished');
        return;
      }
      await deps.hooks?.afterBatch?.(current);
    }
  }

  /** Runs every claimable job until none is left. */
  async function drain(): Promise<void> {
    for (;;) {
      if (stopping) return;
      const job = await rotations.claimRotation(owner, now(), leaseFromNow());
      if (!job) return;
      try {
        await processJob(job);
      } catch (error) {
        // Like a crash: the lease stays until it expires, then this or another worker resumes the job.
        logger.warn({ job: job.id, err: { name: (error as Error)?.name } }, 'key rotation batch failed; will resume after the lease expires');
        return;
      }
    }
  }

  const kick = () => {
    if (running || stopping) return;
    running = drain()
      .catch((error) => logger.error({ err: { name: (error as Error)?.name } }, 'key rotation worker failed'))
      .finally(() => {
        running = undefined;
      });
  };

  return {
    /** Rotates a region's KEK and starts re-wrapping its data keys. */
    async rotate(region: string, requestedBy: string): Promise<KeyRotationRow> {
      const store = storeOf(region);
      if (await rotations.findRunning(region)) {
        throw privgraphError('CONFLICT', `A key rotation of region ${region} is still running; wait for it to finish`);
      }
      const status = await store.kek.rotate();
      cache.dropRegion(region);
      try {
        const job = await rotations.insertRotation({
          id: randomUUID(),
          region,
          keyId: store.kek.keyId,
          targetVersion: status.latestVersion,
          total: await store.keys.countBelowVersion(status.latestVersion),
          requestedBy,
          startedAt: now(),
        });
        kick();
        return job;
      } catch (error) {
        if (error instanceof UniqueViolation) throw privgraphError('CONFLICT', `A key rotation of region ${region} is already running`);
        throw error;
      }
    },

    /** Retires KEK versions below `minDecryptionVersion`, refusing while any data key still uses them. */
    async retire(region: string, minDecryptionVersion: number) {
      const store = storeOf(region);
      const status = await store.kek.status();
      if (!Number.isInteger(minDecryptionVersion) || minDecryptionVersion < 1 || minDecryptionVersion > status.latestVersion) {
        throw privgraphError('BAD_USER_INPUT', `minDecryptionVersion must be between 1 and the latest version (${status.latestVersion})`, {
          field: 'minDecryptionVersion',
        });
      }
      const inUse = await store.keys.countBelowVersion(minDecryptionVersion);
      if (inUse > 0) {
        throw privgraphError('KEY_VERSION_IN_USE', `${inUse} data keys of region ${region} are still wrapped under versions below ${minDecryptionVersion}`);
      }
      const retired = await store.kek.retire(minDecryptionVersion);
      cache.dropRegion(region);
      return retired;
    },

    find: (id: string) => {
      if (!isUuid(id)) throw badInput('id', 'id is not a key rotation id');
      return rotations.findRotation(id);
    },
    list: (region: string | null, limit: number) => rotations.listRotations(region === null ? null : checkText('region', region, 64), limit),

    /** Polls for jobs (new, or abandoned by a crashed worker) until stopped. */
    startWorker() {
      const loop = () => {
        kick();
        timer = setTimeout(loop, deps.pollMs);
        timer.unref();
      };
      loop();
    },
    async stopWorker() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    /** Runs pending work now and waits for it (tests, CLI). */
    async runPending() {
      kick();
      await running;
    },
  };
}

/** Seconds until a running job is done at its average rate so far; null when not measurable. */
export function etaSeconds(job: Pick<KeyRotationRow, 'status' | 'total' | 'done' | 'failed' | 'startedAt' | 'updatedAt'>): number | null {
  if (job.status !== 'RUNNING') return job.status === 'COMPLETED' ? 0 : null;
  const elapsed = (job.updatedAt.getTime() - job.startedAt.getTime()) / 1000;
  const left = job.total - job.done - job.failed;
  if (left <= 0) return 0;
  if (job.done === 0 || elapsed <= 0) return null;
  return Math.ceil(left / (job.done / elapsed));
}
