import DataLoader from 'dataloader';
import type { Request } from 'express';
import { createActionAuditor, type ActionAuditor } from '../../../shared/audit/actions';
import type { AuditSink } from '../../../shared/audit/events';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import type { ExtendedDirectory } from '../../../shared/directory-client';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { ConsentReceiptRow, ConsentRow } from './db/entities';
import type { ConsentHistoryEntry, ConsentService } from './services/consent-service';
import type { PolicyService } from './services/policy-service';
import type { ProcessingRecordsService } from './services/processing-records';

export interface ConsentContext extends ServiceContext {
  consents: ConsentService;
  policies: PolicyService;
  /** Records grants and withdrawals before they take effect. */
  audit: ActionAuditor;
  consentsOfUser: DataLoader<string, ConsentRow[]>;
  historyOfUser: DataLoader<string, ConsentHistoryEntry[]>;
  receiptsOfConsent: DataLoader<string, ConsentReceiptRow[]>;
  /** Records of processing (Art. 30). */
  processingRecords: ProcessingRecordsService;
}

export function createContextFactory(deps: {
  verifier: TokenVerifier;
  directory: ExtendedDirectory;
  consents: ConsentService;
  policies: PolicyService;
  audit: AuditSink;
  processingRecords: ProcessingRecordsService;
}) {
  return async (req: Request): Promise<ConsentContext> => {
    const base = await requestContext(req, deps.verifier, deps.directory);
    return {
      ...base,
      consents: deps.consents,
      policies: deps.policies,
      processingRecords: deps.processingRecords,
      audit: createActionAuditor(deps.audit, base, deps.consents.now),
      consentsOfUser: new DataLoader((ids) => deps.consents.consentsVisibleTo(base.principal, ids)),
      historyOfUser: new DataLoader((ids) => deps.consents.historyVisibleTo(base.principal, ids)),
      // Only reached from consents the caller already sees.
      receiptsOfConsent: new DataLoader((ids) => deps.consents.receiptsOf(ids)),
    };
  };
}
