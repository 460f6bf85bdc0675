import DataLoader from 'dataloader';
import type { Request } from 'express';
import type { AuditSink } from '../../../shared/audit/events';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import type { ConsentLookups } from '../../../shared/consent-client';
import type { StandingLookups } from '../../../shared/standing-client';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { ExtendedDirectory } from '../../../shared/directory-client';
import type { AdminService } from './services/admin-service';
import type { KeyRotationService } from './services/key-rotation';
import { createPrivacyGuard, type PrivacyGuard } from './services/privacy-guard';
import type { EncryptedRecord, VaultService } from './services/vault-service';

export interface PiiContext extends ServiceContext {
  guard: PrivacyGuard;
  vault: VaultService;
  admin: AdminService;
  rotation: KeyRotationService;
  records: DataLoader<string, EncryptedRecord | undefined>;
  /** The region of each subject in the request (one placement query). */
  regions: DataLoader<string, string | null>;
  /** Whether the calling tenant is connected to each subject (one directory call). */
  linkedToTenant: DataLoader<string, boolean>;
  now: () => Date;
}

export interface PiiContextDeps {
  verifier: TokenVerifier;
  directory: ExtendedDirectory;
  consents: ConsentLookups;
  /** Identity's standing API: blocked and suspended users (docs/tenant-admin.md). */
  standing: StandingLookups;
  audit: AuditSink;
  vault: VaultService;
  admin: AdminService;
  rotation: KeyRotationService;
  now: () => Date;
}

export function createContextFactory(deps: PiiContextDeps) {
  return async (req: Request): Promise<PiiContext> => {
    const base = await requestContext(req, deps.verifier, deps.directory);
    const { principal } = base;
    return {
      ...base,
      now: deps.now,
      vault: deps.vault,
      admin: deps.admin,
      rotation: deps.rotation,
      guard: createPrivacyGuard(deps, base),
      records: new DataLoader(async (ids) => {
        // Abandoned at the deadline (a locked or frozen table); the query itself ends at the pool's ceilings.
        const found = await base.deadline.race(deps.vault.loadRecords(ids));
        return ids.map((id) => found.get(id));
      }),
      regions: new DataLoader(async (ids) => {
        const found = await deps.vault.regionsOf(ids);
        return ids.map((id) => found.get(id) ?? null);
      }),
      linkedToTenant: new DataLoader(async (ids) => {
        if (principal.kind !== 'tenant') return ids.map(() => false);
        const refs = await deps.directory.refsForSubjects(principal.tenantId, [...ids]);
        return ids.map((id) => refs.has(id));
      }),
    };
  };
}
