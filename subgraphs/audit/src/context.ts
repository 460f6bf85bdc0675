import type { Request } from 'express';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import type { ExtendedDirectory } from '../../../shared/directory-client';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { AuditService } from './services/audit-service';

export interface AuditContext extends ServiceContext {
  audit: AuditService;
}

export function createContextFactory(deps: { verifier: TokenVerifier; directory: ExtendedDirectory; audit: AuditService }) {
  return async (req: Request): Promise<AuditContext> => {
    return { ...(await requestContext(req, deps.verifier, deps.directory)), audit: deps.audit };
  };
}
