import type { AuditContext } from '../context';
import type { AuditFilterInput } from '../services/audit-service';
import { DateTimeScalar, SafeIntScalar } from '../../../../shared/scalars';

export const resolvers = {
  DateTime: DateTimeScalar,
  SafeInt: SafeIntScalar,
  Query: {
    auditEvents: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: AuditFilterInput | null },
      ctx: AuditContext,
    ) => ctx.audit.listEvents(ctx.principal, args.first, args.after, args.filter),
    verifyAuditLog: (_: unknown, __: unknown, ctx: AuditContext) => ctx.audit.verify(),
  },
  AuditEvent: {
    seq: (event: { seq: string }) => Number(event.seq),
  },
};
