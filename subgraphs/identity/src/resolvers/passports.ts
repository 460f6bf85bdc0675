import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { IdentityContext } from '../context';

/* The rule has already required a subject (permissions.ts). */
export const passportResolvers: Resolvers<IdentityContext> = {
  Mutation: {
    issuePassport: (_, args, ctx) => ctx.passports.issue(ctx.principal as SubjectPrincipal, args.tenantId, ctx.audit),
  },
};
