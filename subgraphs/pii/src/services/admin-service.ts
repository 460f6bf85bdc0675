import { actorOf, type Principal } from '../../../../shared/auth/principal';
import { isUuid } from '../../../../shared/db/data-source';
import { badInput } from '../../../../shared/errors';
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
      await request.guard.recordAdminAction('KEY_ROTATE', { field: `Region.${region(code)}`, reason });
      return rotation.rotate(code, actorName(request.principal));
    },

    async retireKeyVersions(request: AdminRequest, code: string, minDecryptionVersion: number, reason: string) {
      checkAdminReason(reason);
      region(code);
      await request.guard.recordAdminAction('KEY_RETIRE', { field: `Region.${code}`, reason });
      await rotation.retire(code, minDecryptionVersion);
      const [status] = await vault.regionKeys(code);
      return status;
    },

    async rekey(request: AdminRequest, subjectId: string, reason: string) {
      checkAdminReason(reason);
      await request.guard.recordAdminAction('DEK_REKEY', { subjectId: checkSubject(subjectId), reason });
      return { subjectId, ...(await vault.rekey(subjectId)) };
    },

    async shred(request: AdminRequest, subjectId: string, reason: string) {
      checkAdminReason(reason);
      await request.guard.recordAdminAction('SUBJECT_SHRED', { subjectId: checkSubject(subjectId), reason });
      return { subjectId, ...(await vault.shred(subjectId)) };
    },

    async move(request: AdminRequest, subjectId: string, target: string, reason: string) {
      checkAdminReason(reason);
      await request.guard.recordAdminAction('SUBJECT_MOVE', { subjectId: checkSubject(subjectId), field: `Region.${region(target)}`, reason });
      return { subjectId, region: await vault.move(subjectId, target) };
    },
  };
}
