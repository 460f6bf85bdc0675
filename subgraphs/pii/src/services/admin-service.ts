import { actorOf, type Principal } from '../../../../shared/auth/principal';
import { isUuid } from '../../../../shared/db/data-source';
import { badInput, privgraphError } from '../../../../shared/errors';
import { checkAdminReason } from '../../../../shared/pii';
import type { IndexKind } from './blind-index';
import type { KeyRotationService } from './key-rotation';
import type { PrivacyGuard } from './privacy-guard';
import { requireRegion, type RegionPolicy } from './regions';
import type { VaultService } from './vault-service';

/** What an admin operation needs of the request. */
export interface AdminRequest {
  principal: Principal;
  guard: PrivacyGuard;
}

export type AdminService = ReturnType<typeof createAdminService>;

/**
 * Platform-admin operations on the vault. Each states a reason (a reason code or ticket reference,
 * never personal data) and is written to the audit log before it runs; if the audit log cannot
 * record it, it does not run.
 */
export function createAdminService(deps: { vault: VaultService; rotation: KeyRotationService; policy: RegionPolicy }) {
  const { vault, rotation, policy } = deps;

  const checkSubject = (subjectId: string) => {
    if (!isUuid(subjectId)) throw badInput('subjectId', 'subjectId is not a subject id');
    return subjectId;
  };
  const region = (code: string) => requireRegion(policy, code, 'region');
  /** An unknown subject is NOT_FOUND before anything is audited: no event names a subject that does not exist here. */
  const requireProfile = async (subjectId: string) => {
    if (!(await vault.hasProfile(checkSubject(subjectId)))) throw privgraphError('NOT_FOUND', 'No profile is stored for this subject');
    return subjectId;
  };
  const actorName = (principal: Principal) => actorOf(principal).actorId ?? 'unknown';

  return {
    /** Exact match through the blind index; each match is audited (the subject sees the lookup in their log). */
    async findByContact(request: AdminRequest, kind: IndexKind, value: string, reason: string) {
      checkAdminReason(reason);
      const matches = await vault.findByContact(kind, value);
      const field = `User.${kind}`;
      if (matches.length === 0) await request.guard.recordAdminAction('PII_LOOKUP', { field, reason });
      for (const match of matches) await request.guard.recordAdminAction('PII_LOOKUP', { subjectId: match.subjectId, field, reason });
      return matches;
    },

    async rotateKey(request: AdminRequest, code: string, reason: string) {
      checkAdminReason(reason);
      return request.guard.auditedAdminAction('KEY_ROTATE', { field: `Region.${region(code)}`, reason }, () => rotation.rotate(code, actorName(request.principal)));
    },

    async retireKeyVersions(request: AdminRequest, code: string, minDecryptionVersion: number, reason: string) {
      checkAdminReason(reason);
      region(code);
      return request.guard.auditedAdminAction('KEY_RETIRE', { field: `Region.${code}`, reason }, async () => {
        await rotation.retire(code, minDecryptionVersion);
        const [status] = await vault.regionKeys(code);
        return status;
      });
    },

    async rekey(request: AdminRequest, subjectId: string, reason: string) {
      checkAdminReason(reason);
      await requireProfile(subjectId);
      return request.guard.auditedAdminAction('DEK_REKEY', { subjectId, reason }, async () => ({ subjectId, ...(await vault.rekey(subjectId)) }));
    },

    async shred(request: AdminRequest, subjectId: string, reason: string) {
      checkAdminReason(reason);
      // Idempotent (a repeat removes whatever is left), so a subject without a profile is no failure here.
      return request.guard.auditedAdminAction('SUBJECT_SHRED', { subjectId: checkSubject(subjectId), reason }, async () => ({ subjectId, ...(await vault.shred(subjectId)) }));
    },

    async move(request: AdminRequest, subjectId: string, target: string, reason: string) {
      checkAdminReason(reason);
      const field = `Region.${region(target)}`;
      await requireProfile(subjectId);
      return request.guard.auditedAdminAction('SUBJECT_MOVE', { subjectId, field, reason }, async () => ({ subjectId, region: await vault.move(subjectId, target) }));
    },
  };
}
