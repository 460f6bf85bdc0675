import DataLoader from 'dataloader';
import type { Request } from 'express';
import type { AuditSink } from '../../../shared/audit/events';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import type { ConsentLookups } from '../../../shared/consent-client';
import type { Directory } from '../../../shared/auth/principal';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { EncryptedRecord } from './db/repositories/vault-repository';
import { createPrivacyGuard, type PrivacyGuard } from './services/privacy-guard';
import type { VaultService } from './services/vault-service';

export interface PiiContext extends ServiceContext {
  guard: PrivacyGuard;
  vault: VaultService;
  records: DataLoader<string, EncryptedRecord | undefined>;
  now: () => Date;
}

export interface PiiContextDeps {
  verifier: TokenVerifier;
  directory: Directory;
  consents: ConsentLookups;
  audit: AuditSink;
  vault: VaultService;
  now: () => Date;
}

export function createContextFactory(deps: PiiContextDeps) {
  return async (req: Request): Promise<PiiContext> => {
    const base = await requestContext(req, deps.verifier, deps.directory);
    return {
      ...base,
      now: deps.now,
      vault: deps.vault,
      guard: createPrivacyGuard(deps, base),
      records: new DataLoader(async (ids) => {
        const found = await deps.vault.loadRecords(ids);
        return ids.map((id) => found.get(id));
      }),
    };
  };
}
