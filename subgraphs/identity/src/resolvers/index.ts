import { DateTimeScalar } from '../../../../shared/scalars';
import type { SubjectPrincipal, TenantPrincipal } from '../../../../shared/auth/principal';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { IdentityContext } from '../context';
import { userNotFound } from '../errors';
import { dataExportResolvers } from './data-export';
import { passportResolvers } from './passports';
import { tenantAdminResolvers } from './tenant-admin';
import { rightsResolvers } from './rights';
import { webhookResolvers } from './webhooks';
import { tenantSettingsResolvers } from './tenant-settings';

/* Rules have already checked the principal kind for each field (permissions.ts). */
const subjectOf = (ctx: IdentityContext) => ctx.principal as SubjectPrincipal;
const tenantOf = (ctx: IdentityContext) => ctx.principal as TenantPrincipal;

export const resolvers: Resolvers<IdentityContext> = {
  DateTime: DateTimeScalar,
  Query: {
    me: (_, __, ctx) => ctx.users.load(subjectOf(ctx).subjectId),
    user: async (_, args, ctx) => {
      const user = await ctx.identity.userByRef(tenantOf(ctx).tenantId, args.ref);
      if (!user) throw userNotFound();
      return user;
    },
    users: (_, args, ctx) =>
      ctx.identity.pageUsers(tenantOf(ctx).tenantId, args.first, args.after),
    tenants: (_, __, ctx) => ctx.identity.listTenants(),
    myTenantLinks: (_, __, ctx) => ctx.identity.linksOfSubject(subjectOf(ctx).subjectId),
    ...dataExportResolvers.Query,
    ...webhookResolvers.Query,
    ...tenantSettingsResolvers.Query,
    ...rightsResolvers.Query,
  },
  Mutation: {
    createTenant: (_, args, ctx) =>
      ctx.identity.createTenant(args.input, ctx.audit),
    connectTenant: (_, args, ctx) =>
      ctx.identity.connectTenant(subjectOf(ctx).subjectId, args.tenantId, ctx.audit),
    ...webhookResolvers.Mutation,
    ...tenantSettingsResolvers.Mutation,
    ...rightsResolvers.Mutation,
    ...passportResolvers.Mutation,
    ...tenantAdminResolvers.Mutation,
  },
  DataSubjectRequest: rightsResolvers.DataSubjectRequest,
  User: {
    __resolveReference: (reference, ctx) => ctx.users.load(reference.id),
  },
  Tenant: {
    __resolveReference: (reference, ctx) => ctx.tenants.load(reference.id),
    rateLimitPoints: (tenant, _, ctx) => ctx.tenantRateLimits.load(tenant.id),
  },
};
