import type { TenantPrincipal } from '../../../../shared/auth/principal';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { IdentityContext } from '../context';

/* Rules have already required a tenant admin or a platform admin (permissions.ts). */
const tenantOf = (ctx: IdentityContext) => ctx.principal as TenantPrincipal;

export const tenantAdminResolvers: Resolvers<IdentityContext> = {
  Mutation: {
    blockUser: (_, args, ctx) => ctx.tenantAdmin.blockUser(tenantOf(ctx), args.ref, args.reason, ctx.audit),
    unblockUser: (_, args, ctx) => ctx.tenantAdmin.unblockUser(tenantOf(ctx), args.ref, ctx.audit),
    suspendSubject: (_, args, ctx) => ctx.tenantAdmin.suspendSubject(args.subjectId, args.reason, ctx.audit),
    reinstateSubject: (_, args, ctx) => ctx.tenantAdmin.reinstateSubject(args.subjectId, args.reason, ctx.audit),
    updateTenant: (_, args, ctx) => ctx.tenantAdmin.updateTenant(args.id, args.input, ctx.audit),
    setTenantRateLimit: async (_, args, ctx) => {
      await ctx.tenantSettings.setRateLimit(args.tenantId, args.points ?? null, ctx.audit);
      ctx.tenantRateLimits.clear(args.tenantId);
      return (await ctx.tenants.load(args.tenantId)) as NonNullable<Awaited<ReturnType<typeof ctx.tenants.load>>>;
    },
  },
};
