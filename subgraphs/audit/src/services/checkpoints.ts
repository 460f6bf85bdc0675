import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JWK } from 'jose';
import { componentLogger } from '../../../../shared/logger';
import { openDocument, signDocument, type SigningKey } from '../../../../shared/signing-key';
import type { AuditRepository } from '../db/repositories/audit-repository';

/**
 * Signed checkpoints: (sequence number, chain head, time) signed by the platform's key and kept
 * outside the audit table. A hash chain alone cannot show that its tail was cut off, or that it was
 * rewritten and recomputed from some event on; a checkpoint signed earlier and stored elsewhere can.
 */
export interface Checkpoint {
  seq: number;
  /** The chain hash of event `seq`, base64url. */
  head: string;
  at: string;
}

export const CHECKPOINT_TYPE = 'privgraph-audit-checkpoint+jws';

/** Where checkpoints are kept; the default is an append-only JSON Lines file. */
export interface CheckpointSink {
  append(jws: string): Promise<void>;
  readAll(): Promise<string[]>;
}

export class CheckpointSinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointSinkError';
  }
}

/** One JSON object per line, appended and fsynced; never rewritten. */
export function createFileCheckpointSink(path: string): CheckpointSink {
  return {
    async append(jws) {
      let fd: number | undefined;
      try {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        fd = openSync(path, 'a', 0o600);
        writeSync(fd, `${JSON.stringify({ jws })}\n`);
        fsyncSync(fd);
      } catch {
        throw new CheckpointSinkError('the checkpoint file cannot be written');
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    },
    async readAll() {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw new CheckpointSinkError('the checkpoint file cannot be read');
      }
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => {
          try {
            return String((JSON.parse(line) as { jws: unknown }).jws);
          } catch {
            return line;
          }
        });
    },
  };
}

export function signCheckpoint(key: SigningKey, checkpoint: Checkpoint): Promise<string> {
  return signDocument(key, CHECKPOINT_TYPE, checkpoint);
}

/** Verifies a checkpoint's signature and shape; null when it does not verify. */
export async function openCheckpoint(publicJwk: JWK, jws: string): Promise<Checkpoint | null> {
  const parsed = (await openDocument(publicJwk, CHECKPOINT_TYPE, jws)) as Checkpoint | null;
  if (!parsed || !Number.isSafeInteger(parsed.seq) || parsed.seq < 1 || typeof parsed.head !== 'string' || typeof parsed.at !== 'string') return null;
  return parsed;
}

const logger = componentLogger('audit.checkpoints');

/** Writes a checkpoint of the current head on demand and every `intervalMs` (when the head moved). */
export function createCheckpointer(deps: { repo: AuditRepository; sink: CheckpointSink; key: SigningKey; now: () => Date; intervalMs: number }) {
  let last: Checkpoint | null = null;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<Checkpoint | null> = Promise.resolve(null);

  async function write(): Promise<Checkpoint | null> {
    const head = await deps.repo.readHead();
    if (head.seq === 0n || !head.hash) return null;
    if (last && BigInt(last.seq) === head.seq) return last;
    const checkpoint: Checkpoint = { seq: Number(head.seq), head: head.hash.toString('base64url'), at: deps.now().toISOString() };
    await deps.sink.append(await signCheckpoint(deps.key, checkpoint));
    last = checkpoint;
    return checkpoint;
  }

  return {
    /** One at a time, so two calls never write the same checkpoint twice. */
    checkpointNow(): Promise<Checkpoint | null> {
      running = running.catch(() => null).then(write);
      return running;
    },
    start() {
      if (deps.intervalMs <= 0) return;
      timer = setInterval(() => {
        this.checkpointNow().catch((error) => logger.warn({ err: { name: (error as Error)?.name } }, 'periodic checkpoint failed'));
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}

export type Checkpointer = ReturnType<typeof createCheckpointer>;
