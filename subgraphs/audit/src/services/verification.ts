import type { JWK } from 'jose';
import type { AuditRepository } from '../db/repositories/audit-repository';
import { openCheckpoint, type Checkpoint } from './checkpoints';
import { canonicalTime, chainHash, GENESIS_HASH } from './hash-chain';
import { openPurgeRecord } from './purge-records';

/**
 * What verification found first:
 * - CHAIN_BROKEN: an event was altered, removed, inserted or reordered (its hash or its link fails, or a
 *   sequence number is missing); the first bad seq is that event's (for a missing one, the missing number);
 * - DUPLICATE_SEQ: two events hold the same sequence number (a forged row beside a real one); the first
 *   bad seq is that number, whichever of the two sorts first;
 * - TRUNCATED: a signed checkpoint names an event the log no longer has (the tail was cut off);
 * - CHECKPOINT_MISMATCH: the chain verifies, but not to the head a checkpoint signed (it was rewritten and
 *   recomputed); the first bad seq is the first event after the last checkpoint that still matches;
 * - CHECKPOINT_INVALID: a stored checkpoint's signature does not verify with the platform's key;
 * - PURGE_RECORD_INVALID: a record of events removed by retention does not verify with it.
 * Events removed by retention are bridged by their signed purge record (each run of removed sequence
 * numbers and the hash it ended with); any other missing event breaks the chain.
 */
export type VerificationProblem = 'CHAIN_BROKEN' | 'DUPLICATE_SEQ' | 'TRUNCATED' | 'CHECKPOINT_MISMATCH' | 'CHECKPOINT_INVALID' | 'PURGE_RECORD_INVALID';

export interface Verification {
  ok: boolean;
  checked: number;
  firstBadSeq: number | null;
  checkpoints: number;
  problem: VerificationProblem | null;
}

const CHUNK = 5000;

interface RemovedRun {
  to: bigint;
  lastHash: Buffer;
}

/** Recomputes the chain from event 1 (across removed runs) and holds it against every signed checkpoint. */
export async function verifyAuditLog(repo: AuditRepository, checkpointJws: string[], publicJwk: JWK, purgeJws: string[] = []): Promise<Verification> {
  const checkpoints: Checkpoint[] = [];
  let invalidCheckpoint = false;
  for (const jws of checkpointJws) {
    const opened = await openCheckpoint(publicJwk, jws);
    if (opened) checkpoints.push(opened);
    else invalidCheckpoint = true;
  }
  checkpoints.sort((a, b) => a.seq - b.seq);
  const removed = new Map<bigint, RemovedRun>();
  let invalidPurge = false;
  for (const jws of purgeJws) {
    const record = await openPurgeRecord(publicJwk, jws);
    if (!record) invalidPurge = true;
    for (const run of record?.runs ?? []) removed.set(BigInt(run.from), { to: BigInt(run.to), lastHash: Buffer.from(run.lastHash, 'base64') });
  }
  const removedRuns = [...removed.entries()];
  const insideRemoved = (seq: number) => removedRuns.some(([from, run]) => BigInt(seq) >= from && BigInt(seq) < run.to);
  const wanted = new Set(checkpoints.map((c) => c.seq));
  const hashAt = new Map<number, string>();

  let prevHash: Buffer = GENESIS_HASH;
  let expectedSeq = 1n;
  let checked = 0;
  const result = (problem: VerificationProblem | null, firstBadSeq: number | null): Verification => ({
    ok: problem === null,
    checked,
    firstBadSeq,
    checkpoints: checkpoints.length,
    problem,
  });

  if (invalidPurge) return result('PURGE_RECORD_INVALID', null);
  // A duplicate is named at its own number: without this the second copy would read as a break at
  // the next (untouched) event, or the forged copy sorting first as an edit.
  const duplicates = new Set(await repo.duplicateSeqs());
  /** Steps over runs removed by retention that start where the chain stands. */
  const bridge = () => {
    for (let run = removed.get(expectedSeq); run; run = removed.get(expectedSeq)) {
      if (wanted.has(Number(run.to))) hashAt.set(Number(run.to), run.lastHash.toString('base64url'));
      prevHash = run.lastHash;
      expectedSeq = run.to + 1n;
    }
  };

  for (;;) {
    bridge();
    const rows = await repo.scanAfter((expectedSeq - 1n).toString(), CHUNK);
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = BigInt(row.seq);
      if (duplicates.has(seq) && seq <= expectedSeq) return result('DUPLICATE_SEQ', Number(seq));
      if (seq !== expectedSeq) bridge();
      if (seq !== expectedSeq) return result('CHAIN_BROKEN', Number(expectedSeq));
      const recomputed = chainHash(prevHash, { ...row, occurredAt: canonicalTime(row.occurredAt) });
      if (!row.prevHash.equals(prevHash) || !row.hash.equals(recomputed)) return result('CHAIN_BROKEN', Number(seq));
      if (wanted.has(Number(seq))) hashAt.set(Number(seq), row.hash.toString('base64url'));
      prevHash = row.hash;
      expectedSeq += 1n;
      checked += 1;
    }
  }
  if (invalidCheckpoint) return result('CHECKPOINT_INVALID', null);
  let lastGood = 0;
  const lastSeq = Number(expectedSeq - 1n);
  for (const checkpoint of checkpoints) {
    if (checkpoint.seq > lastSeq) return result('TRUNCATED', lastSeq + 1);
    // A checkpoint inside a removed run can no longer be compared; the purge record's signature stands for it.
    if (insideRemoved(checkpoint.seq)) continue;
    if (hashAt.get(checkpoint.seq) !== checkpoint.head) return result('CHECKPOINT_MISMATCH', lastGood + 1);
    lastGood = checkpoint.seq;
  }
  return result(null, null);
}
