import type { Request } from 'express';
import { resolvePrincipal } from '../../../shared/auth/principal';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import type { ExtendedDirectory } from '../../../shared/directory-client';
import type { ServiceContext } from '../../../shared/permissions';
import { purposeFrom, requestIdFrom } from '../../../shared/request';
import type { AuditService } from './services/audit-service';

export interface AuditContext extends ServiceContext {
  audit: AuditService;
}

export function createContextFactory(deps: { verifier: TokenVerifier; directory: ExtendedDirectory; audit: AuditService }) {
  return async (req: Request): Promise<AuditContext> => {
    const principal = await resolvePrincipal(req.header('authorization'), deps.verifier, deps.directory);
    const { purpose, malformed } = purposeFrom(req);
    return { principal, requestId: requestIdFrom(req), purpose, purposeMalformed: malformed, audit: deps.audit };
  };
}
