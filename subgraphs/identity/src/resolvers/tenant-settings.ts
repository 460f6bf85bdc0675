import type { TenantPrincipal } from '../../../../shared/auth/principal';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { IdentityContext } from '../context';

/* Rules have already required a tenant admin (permissions.ts); every call is scoped to the caller's tenant. */
const tenantOf = (ctx: IdentityContext) => (ctx.principal as TenantPrincipal).tenantId;

export const tenantSettingsResolvers: Resolvers<IdentityContext> = {
  Query: {
    tenantSettings: (_, __, ctx) => ctx.tenantSettings.settings(tenantOf(ctx)),
  },
  Mutation: {
    setSafelistMode: (_, args, ctx) => ctx.tenantSettings.setSafelistMode(tenantOf(ctx), args.mode, ctx.audit),
    registerPersistedOperations: (_, args, ctx) => ctx.tenantSettings.registerPersistedOperations(tenantOf(ctx), args.manifest, args.replace, ctx.audit),
    setAllowedOrigins: (_, args, ctx) => ctx.tenantSettings.setAllowedOrigins(tenantOf(ctx), args.origins, ctx.audit),
    setStorefrontClients: (_, args, ctx) => ctx.tenantSettings.setStorefrontClients(tenantOf(ctx), args.clientIds, ctx.audit),
  },
};
