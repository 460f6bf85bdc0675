import type { JWK } from 'jose';
import type { AuditRepository } from '../db/repositories/audit-repository';
import { openCheckpoint, type Checkpoint } from './checkpoints';
import { canonicalTime, chainHash, GENESIS_HASH } from './hash-chain';

/**
 * What verification found first:
 * - CHAIN_BROKEN: an event was altered, removed, inserted or reordered (its hash or its link fails, or a
 *   sequence number is missing);
 * - TRUNCATED: a signed checkpoint names an event the log no longer has (the tail was cut off);
 * - CHECKPOINT_MISMATCH: the chain verifies, but not to the head a checkpoint signed (it was rewritten and
 *   recomputed); the first bad seq is the first event after the last checkpoint that still matches;
 * - CHECKPOINT_INVALID: a stored checkpoint's signature does not verify with the platform's key.
 */
export type VerificationProblem = 'CHAIN_BROKEN' | 'TRUNCATED' | 'CHECKPOINT_MISMATCH' | 'CHECKPOINT_INVALID';

export interface Verification {
  ok: boolean;
  checked: number;
  firstBadSeq: number | null;
  checkpoints: number;
  problem: VerificationProblem | null;
}

const CHUNK = 5000;

/** Recomputes the chain from event 1 and holds it against every signed checkpoint. */
export async function verifyAuditLog(repo: AuditRepository, checkpointJws: string[], publicJwk: JWK): Promise<Verification> {
  const checkpoints: Checkpoint[] = [];
  let invalidCheckpoint = false;
  for (const jws of checkpointJws) {
    const opened = await openCheckpoint(publicJwk, jws);
    if (opened) checkpoints.push(opened);
    else invalidCheckpoint = true;
  }
  checkpoints.sort((a, b) => a.seq - b.seq);
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

  for (;;) {
    const rows = await repo.scanAfter((expectedSeq - 1n).toString(), CHUNK);
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = BigInt(row.seq);
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
  for (const checkpoint of checkpoints) {
    if (checkpoint.seq > checked) return result('TRUNCATED', checked + 1);
    if (hashAt.get(checkpoint.seq) !== checkpoint.head) return result('CHECKPOINT_MISMATCH', lastGood + 1);
    lastGood = checkpoint.seq;
  }
  return result(null, null);
}
