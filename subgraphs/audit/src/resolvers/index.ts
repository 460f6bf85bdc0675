import type { Resolvers } from '../__generated__/resolvers-types';
import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import type { AuditContext } from '../context';
import type { AuditFilterInput } from '../services/audit-service';
import { DateTimeScalar, SafeIntScalar } from '../../../../shared/scalars';

export const resolvers: Resolvers<AuditContext> = {
  DateTime: DateTimeScalar,
  SafeInt: SafeIntScalar,
  Query: {
    auditEvents: (_, args, ctx) => ctx.audit.listEvents(ctx.principal, args.first, args.after, args.filter as AuditFilterInput | null),
    verifyAuditLog: (_, __, ctx) => ctx.audit.verify(),
    myAccessLog: (_, args, ctx) => ctx.audit.accessLog((ctx.principal as SubjectPrincipal).subjectId, args),
  },
  AuditEvent: {
    seq: (event) => Number(event.seq),
  },
};
