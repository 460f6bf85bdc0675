import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import type { Resolvers } from '../__generated__/resolvers-types';
import type { IdentityContext } from '../context';
import type { DsrView } from '../services/rights-service';

/* Rules have already checked the principal kind for each field (permissions.ts). */
const subjectOf = (ctx: IdentityContext) => ctx.principal as SubjectPrincipal;

export const rightsResolvers: Resolvers<IdentityContext> = {
  Query: {
    myDataSubjectRequests: (_, __, ctx) => ctx.rights.requestsOfSubject(subjectOf(ctx).subjectId),
    dataSubjectRequest: (_, args, ctx) => ctx.rights.request(args.id),
    dataSubjectRequests: (_, args, ctx) => ctx.rights.page(args.filter, args.first, args.after),
  },
  Mutation: {
    requestErasure: (_, args, ctx) => ctx.rights.requestErasure(subjectOf(ctx).subjectId, args.reason, ctx.audit),
    requestDataExport: (_, __, ctx) => ctx.rights.requestDataExport(subjectOf(ctx).subjectId, ctx.audit),
    openDataSubjectRequest: (_, args, ctx) => ctx.rights.openOnBehalf(args.input, ctx.audit),
    extendDataSubjectRequest: (_, args, ctx) => ctx.rights.extend(args.id, args.months, args.reason, ctx.audit),
  },
  DataSubjectRequest: {
    origin: (request: DsrView) => request.openedBy,
    extension: (request: DsrView) =>
      request.extendedMonths > 0 && request.extensionReason && request.extensionNoticeDueAt
        ? { months: request.extendedMonths, reason: request.extensionReason, noticeDueAt: request.extensionNoticeDueAt }
        : null,
  },
};
