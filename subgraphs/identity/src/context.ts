import DataLoader from 'dataloader';
import type { Request } from 'express';
import { createActionAuditor, type ActionAuditor } from '../../../shared/audit/actions';
import type { AuditSink } from '../../../shared/audit/events';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import { withDirectoryCache } from '../../../shared/directory-client';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { TenantRow } from './db/entities';
import type { IdentityService, UserView } from './services/identity-service';

export interface IdentityContext extends ServiceContext {
  identity: IdentityService;
  /** Records tenant creation and connection before they take effect. */
  audit: ActionAuditor;
  users: DataLoader<string, UserView | null>;
  tenants: DataLoader<string, TenantRow | null>;
}

export function createContextFactory(deps: { verifier: TokenVerifier; identity: IdentityService; audit: AuditSink; now: () => Date }) {
  const directory = withDirectoryCache(deps.identity.directory);
  return async (req: Request): Promise<IdentityContext> => {
    const base = await requestContext(req, deps.verifier, directory);
    return {
      ...base,
      identity: deps.identity,
      audit: createActionAuditor(deps.audit, base, deps.now),
      users: new DataLoader((ids) => deps.identity.userViews(base.principal, ids)),
      tenants: new DataLoader(async (ids) => {
        const found = new Map((await deps.identity.listTenantsByIds(ids)).map((t) => [t.id, t]));
        return ids.map((id) => found.get(id) ?? null);
      }),
    };
  };
}
