import type { AuditEventInput, AuditSink } from '../../../../shared/audit/events';
import type { AuditRepository } from '../db/repositories/audit-repository';
import type { AuditEventRow } from '../db/entities';
import { chainHash, GENESIS_HASH } from './hash-chain';

interface Pending {
  events: AuditEventInput[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: appends that arrive while a transaction is in flight are written together in the
 * next one. Each caller's promise resolves only after the transaction holding its events commits,
 * so throughput grows with load while every event is still durable before the caller proceeds.
 */
export function createAuditWriter(repo: AuditRepository, options: { maxBatch?: number } = {}): AuditSink {
  const maxBatch = options.maxBatch ?? 5000;
  const queue: Pending[] = [];
  let running = false;

  async function drain() {
    running = true;
    while (queue.length > 0) {
      const batch: Pending[] = [];
      let size = 0;
      while (queue.length > 0 && (batch.length === 0 || size + queue[0].events.length <= maxBatch)) {
        const next = queue.shift() as Pending;
        batch.push(next);
        size += next.events.length;
      }
      try {
        await repo.appendChained((head) => chain(head.seq, head.hash ?? GENESIS_HASH, batch.flatMap((p) => p.events)));
        for (const pending of batch) pending.resolve();
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    running = false;
  }

  return {
    append(events) {
      if (events.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        queue.push({ events, resolve, reject });
        if (!running) void drain();
      });
    },
  };

  function chain(headSeq: bigint, headHash: Buffer, events: AuditEventInput[]): AuditEventRow[] {
    let prevHash = headHash;
    let seq = headSeq;
    return events.map((event) => {
      seq += 1n;
      const fields = { ...event, seq: seq.toString(), occurredAt: new Date(event.occurredAt) };
      const hash = chainHash(prevHash, fields);
      const row: AuditEventRow = { ...fields, prevHash, hash };
      prevHash = hash;
      return row;
    });
  }
}

