import type { AppendOptions, AuditEventInput, AuditSink } from '../../../../shared/audit/events';
import { AuditDeadlineExceeded, type AuditRepository, type ChainHead } from '../db/repositories/audit-repository';
import type { AuditEventRow } from '../db/entities';
import { canonicalTime, chainHash, GENESIS_HASH } from './hash-chain';

interface Pending {
  events: AuditEventInput[];
  /** Commit by (epoch ms); undefined = no limit. */
  deadline: number | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Prepared {
  base: ChainHead;
  rows: AuditEventRow[];
}

/** Transactions in flight at once: one committing while the next waits for the chain lock. */
const MAX_IN_FLIGHT = 2;
/** A member with less than this left when its batch missed the deadline is refused rather than written again. */
const RETRY_MARGIN_MS = 5;
/** PostgreSQL's answers to a wait the repository bounded by the batch's deadline (statement_timeout, lock_timeout). */
const DEADLINE_CODES = new Set(['57014', '55P03']);

/**
 * Group commit: appends that arrive while a transaction is in flight are written together in the
 * next one. Each caller's promise resolves only after the transaction holding its events commits,
 * so throughput grows with load while every event is still durable before the caller proceeds.
 *
 * Hashing happens before the chain lock is taken, against the head this writer expects (the end
 * of the batch it prepared last). Under the lock the real head is read; if it differs (another
 * writer appended, or the previous batch failed) the batch is hashed again from the real head, so
 * the chain is always built on what is committed.
 *
 * Deadlines: a caller that stops waiting (its request timed out) must not have its events committed
 * later — an ALLOW recorded after the read was refused would claim a release that never happened. A
 * batch therefore commits by the earliest deadline of its members or not at all (the repository bounds
 * every wait inside the transaction by it and checks it again right before COMMIT). One member's
 * deadline never shortens another's: when a batch misses its deadline, only the members whose own
 * deadline has passed (or is within RETRY_MARGIN_MS) are refused, and the others are written again at
 * once, by themselves, as the next transaction (hashed anew from the head under the lock), in the same
 * in-flight slot. Each retry drops at least the member that set the missed deadline, so a member is
 * only ever refused for its own deadline. A member whose deadline passed while it queued is refused
 * without being written. Any other failure (a bad row) fails the batch as a whole.
 */
export function createAuditWriter(repo: AuditRepository, options: { maxBatch?: number } = {}): AuditSink {
  const maxBatch = options.maxBatch ?? 5000;
  const queue: Pending[] = [];
  let inFlight = 0;
  let expectedHead: ChainHead | null = null;

  function takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let size = 0;
    const now = Date.now();
    while (queue.length > 0 && (batch.length === 0 || size + queue[0].events.length <= maxBatch)) {
      const next = queue.shift() as Pending;
      if (next.deadline !== undefined && next.deadline <= now) {
        next.reject(new AuditDeadlineExceeded());
        continue;
      }
      batch.push(next);
      size += next.events.length;
    }
    return batch;
  }

  function pump() {
    while (queue.length > 0 && inFlight < MAX_IN_FLIGHT) {
      const batch = takeBatch();
      if (batch.length === 0) continue;
      inFlight += 1;
      run(batch);
    }
  }

  /** Writes one batch in the in-flight slot already taken for it; frees the slot when no retry follows. */
  function run(batch: Pending[]) {
    const events = batch.flatMap((p) => p.events);
    const deadlines = batch.flatMap((p) => (p.deadline === undefined ? [] : [p.deadline]));
    const deadline = deadlines.length > 0 ? Math.min(...deadlines) : undefined;
    const prepared = expectedHead ? prepare(expectedHead, events) : null;
    expectedHead = prepared ? lastOf(prepared) : null;
    const done = () => {
      inFlight -= 1;
      pump();
    };
    repo
      .appendChained((head) => (prepared && sameHead(prepared.base, head) ? prepared.rows : prepare(head, events).rows), { deadline })
      .then(
        (written) => {
          if (!expectedHead) expectedHead = written;
          for (const pending of batch) pending.resolve();
          done();
        },
        (error: unknown) => {
          expectedHead = null;
          const missedDeadline =
            deadline !== undefined && (error instanceof AuditDeadlineExceeded || DEADLINE_CODES.has((error as { code?: string } | null)?.code ?? ''));
          if (!missedDeadline) {
            for (const pending of batch) pending.reject(error);
            done();
            return;
          }
          const now = Date.now();
          const expired = batch.filter((p) => p.deadline !== undefined && p.deadline - now <= RETRY_MARGIN_MS);
          const rest = batch.filter((p) => !expired.includes(p));
          for (const pending of expired) pending.reject(new AuditDeadlineExceeded());
          // No member's own deadline explains the failure: fail them all rather than retry without end.
          if (expired.length === 0) {
            for (const pending of rest) pending.reject(error);
            done();
            return;
          }
          if (rest.length > 0) run(rest);
          else done();
        },
      );
  }

  return {
    append(events, options: AppendOptions = {}) {
      if (events.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        queue.push({ events, deadline: options.deadline, resolve, reject });
        pump();
      });
    },
  };
}

function prepare(head: ChainHead, events: AuditEventInput[]): Prepared {
  let prevHash = head.hash ?? GENESIS_HASH;
  let seq = head.seq;
  const rows = events.map((event) => {
    seq += 1n;
    const fields = { ...event, seq: seq.toString(), occurredAt: canonicalTime(event.occurredAt), outcome: event.outcome ?? null, origin: event.origin ?? null, userAgentClass: event.userAgentClass ?? null };
    const hash = chainHash(prevHash, fields);
    const row: AuditEventRow = { ...fields, occurredAt: new Date(fields.occurredAt), prevHash, hash };
    prevHash = hash;
    return row;
  });
  return { base: head, rows };
}

function lastOf(prepared: Prepared): ChainHead {
  const last = prepared.rows.at(-1);
  return last ? { seq: BigInt(last.seq), hash: last.hash } : prepared.base;
}

function sameHead(a: ChainHead, b: ChainHead): boolean {
  return a.seq === b.seq && (a.hash === null ? b.hash === null : b.hash !== null && a.hash.equals(b.hash));
}

