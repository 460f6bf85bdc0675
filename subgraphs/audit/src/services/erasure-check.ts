import type { AuditErasureCheck } from '../../../../shared/erasure-client';
import type { RetentionRepository } from '../db/repositories/retention-repository';
import type { Verification } from './verification';

/**
 * The erasure saga's last step: the log keeps the subject's events under the opaque subject id only
 * (they never held a value of personal data), so nothing is removed; the step proves the chain still
 * verifies and reports whether a legal hold keeps the evidence beyond its retention.
 */
export function createErasureCheck(deps: { retention: RetentionRepository; verify: () => Promise<Verification> }) {
  // Erasures that reach this step together share one walk of the chain instead of one each.
  let running: Promise<Verification> | undefined;
  const verifyOnce = () => {
    running ??= deps.verify().finally(() => {
      running = undefined;
    });
    return running;
  };
  return async (subjectId: string): Promise<AuditErasureCheck> => {
    const verification = await verifyOnce();
    const evidence = await deps.retention.subjectEvidence(subjectId);
    return { chainVerifies: verification.ok, problem: verification.problem, legalHold: evidence.holds > 0, events: evidence.events };
  };
}
