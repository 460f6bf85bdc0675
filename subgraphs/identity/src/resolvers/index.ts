import { DateTimeScalar } from '../../../../shared/scalars';
import type { SubjectPrincipal, TenantPrincipal } from '../../../../shared/auth/principal';
import type { IdentityContext } from '../context';
import { userNotFound } from '../errors';

/* Rules have already checked the principal kind for each field (permissions.ts). */
const subjectOf = (ctx: IdentityContext) => ctx.principal as SubjectPrincipal;
const tenantOf = (ctx: IdentityContext) => ctx.principal as TenantPrincipal;

export const resolvers = {
  DateTime: DateTimeScalar,
  Query: {
    me: (_: unknown, __: unknown, ctx: IdentityContext) => ctx.users.load(subjectOf(ctx).subjectId),
    user: async (_: unknown, args: { ref: string }, ctx: IdentityContext) => {
      const user = await ctx.identity.userByRef(tenantOf(ctx).tenantId, args.ref);
      if (!user) throw userNotFound();
      return user;
    },
    users: (_: unknown, args: { first?: number | null; after?: string | null }, ctx: IdentityContext) =>
      ctx.identity.pageUsers(tenantOf(ctx).tenantId, args.first, args.after),
    tenants: (_: unknown, __: unknown, ctx: IdentityContext) => ctx.identity.listTenants(),
    myTenantLinks: (_: unknown, __: unknown, ctx: IdentityContext) => ctx.identity.linksOfSubject(subjectOf(ctx).subjectId),
  },
  Mutation: {
    createTenant: (_: unknown, args: { input: { name: string; idpOrganizationId?: string | null } }, ctx: IdentityContext) =>
      ctx.identity.createTenant(args.input),
    connectTenant: (_: unknown, args: { tenantId: string }, ctx: IdentityContext) =>
      ctx.identity.connectTenant(subjectOf(ctx).subjectId, args.tenantId),
  },
  User: {
    __resolveReference: (reference: { id: string }, ctx: IdentityContext) => ctx.users.load(reference.id),
  },
  Tenant: {
    __resolveReference: (reference: { id: string }, ctx: IdentityContext) => ctx.tenants.load(reference.id),
  },
};
