import type { Request } from 'express';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import type { ExtendedDirectory } from '../../../shared/directory-client';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { AuditService } from './services/audit-service';
import type { Checkpointer } from './services/checkpoints';

export interface AuditContext extends ServiceContext {
  audit: AuditService;
  checkpointer: Checkpointer;
}

export function createContextFactory(deps: { verifier: TokenVerifier; directory: ExtendedDirectory; audit: AuditService; checkpointer: Checkpointer }) {
  return async (req: Request): Promise<AuditContext> => {
    return { ...(await requestContext(req, deps.verifier, deps.directory)), audit: deps.audit, checkpointer: deps.checkpointer };
  };
}
