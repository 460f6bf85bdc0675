import type { Request } from 'express';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import type { ExtendedDirectory } from '../../../shared/directory-client';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { AuditService } from './services/audit-service';
import type { Checkpointer } from './services/checkpoints';
import type { RetentionService } from './services/retention';
import { createActionAuditor, type ActionAuditor } from '../../../shared/audit/actions';
import type { AuditSink } from '../../../shared/audit/events';

export interface AuditContext extends ServiceContext {
  audit: AuditService;
  checkpointer: Checkpointer;
  retention: RetentionService;
  /** Records admin actions on the log itself (retention, legal holds) before they take effect. */
  auditAction: ActionAuditor;
}

export function createContextFactory(deps: {
  verifier: TokenVerifier;
  directory: ExtendedDirectory;
  audit: AuditService;
  checkpointer: Checkpointer;
  retention: RetentionService;
  sink: AuditSink;
  now: () => Date;
}) {
  return async (req: Request): Promise<AuditContext> => {
    const base = await requestContext(req, deps.verifier, deps.directory);
    return {
      ...base,
      audit: deps.audit,
      checkpointer: deps.checkpointer,
      retention: deps.retention,
      auditAction: createActionAuditor(deps.sink, base, deps.now),
    };
  };
}
