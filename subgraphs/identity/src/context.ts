import DataLoader from 'dataloader';
import type { Request } from 'express';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import { withDirectoryCache } from '../../../shared/directory-client';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { TenantRow } from './db/entities';
import type { IdentityService, UserView } from './services/identity-service';

export interface IdentityContext extends ServiceContext {
  identity: IdentityService;
  users: DataLoader<string, UserView | null>;
  tenants: DataLoader<string, TenantRow | null>;
}

export function createContextFactory(deps: { verifier: TokenVerifier; identity: IdentityService }) {
  const directory = withDirectoryCache(deps.identity.directory);
  return async (req: Request): Promise<IdentityContext> => {
    const base = await requestContext(req, deps.verifier, directory);
    return {
      ...base,
      identity: deps.identity,
      users: new DataLoader((ids) => deps.identity.userViews(base.principal, ids)),
      tenants: new DataLoader(async (ids) => {
        const found = new Map((await deps.identity.listTenantsByIds(ids)).map((t) => [t.id, t]));
        return ids.map((id) => found.get(id) ?? null);
      }),
    };
  };
}
