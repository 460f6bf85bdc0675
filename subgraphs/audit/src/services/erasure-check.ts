import type { AuditErasureCheck } from '../../../../shared/erasure-client';
import type { RetentionRepository } from '../db/repositories/retention-repository';
import type { Verification } from './verification';

/**
 * The erasure saga's last step: the log keeps the subject's events under the opaque subject id only
 * (they never held a value of personal data), so nothing is removed; the step proves the chain still
 * verifies and reports whether a legal hold keeps the evidence beyond its retention.
 */
export function createErasureCheck(deps: { retention: RetentionRepository; verify: () => Promise<Verification> }) {
  return async (subjectId: string): Promise<AuditErasureCheck> => {
    const verification = await deps.verify();
    const evidence = await deps.retention.subjectEvidence(subjectId);
    return { chainVerifies: verification.ok, problem: verification.problem, legalHold: evidence.holds > 0, events: evidence.events };
  };
}
