import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { IdentityContext } from '../context';

/** Data export links (subject only; permissions.ts). */
export const dataExportResolvers: Resolvers<IdentityContext> = {
  Query: {
    dataExportLink: (_, args, ctx) => ctx.dataExports.link((ctx.principal as SubjectPrincipal).subjectId, args.requestId),
  },
};
