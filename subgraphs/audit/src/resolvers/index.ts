import type { Resolvers } from '../__generated__/resolvers-types';
import type { PlatformAdminPrincipal, SubjectPrincipal } from '../../../../shared/auth/principal';
import type { AuditContext } from '../context';
import { privgraphError } from '../../../../shared/errors';
import { CheckpointSinkError } from '../services/checkpoints';
import type { AuditFilterInput } from '../services/audit-service';
import { DateTimeScalar, SafeIntScalar } from '../../../../shared/scalars';

const adminOf = (ctx: AuditContext) => (ctx.principal as PlatformAdminPrincipal).sub;

export const resolvers: Resolvers<AuditContext> = {
  DateTime: DateTimeScalar,
  SafeInt: SafeIntScalar,
  Query: {
    auditEvents: (_, args, ctx) => ctx.audit.listEvents(ctx.principal, args.first, args.after, args.filter as AuditFilterInput | null),
    verifyAuditLog: (_, __, ctx) => ctx.audit.verify(),
    myAccessLog: (_, args, ctx) => ctx.audit.accessLog((ctx.principal as SubjectPrincipal).subjectId, args),
    auditRetention: async (_, __, ctx) => {
      const [status, purges] = await Promise.all([ctx.retention.status(), ctx.retention.purges()]);
      return { defaultDays: ctx.retention.defaultDays, tenants: status.tenants, legalHolds: status.holds, partitions: status.partitions, purges };
    },
  },
  Mutation: {
    createAuditCheckpoint: async (_, __, ctx) => {
      try {
        return await ctx.checkpointer.checkpointNow();
      } catch (error) {
        if (error instanceof CheckpointSinkError) throw privgraphError('CHECKPOINT_UNAVAILABLE', 'The checkpoint store cannot be written; no checkpoint was made');
        throw error;
      }
    },
    setAuditRetention: (_, args, ctx) => ctx.retention.setRetention(ctx.auditAction, adminOf(ctx), args.tenantId, args.days, args.reason),
    placeLegalHold: (_, args, ctx) => ctx.retention.placeHold(ctx.auditAction, adminOf(ctx), args.input),
    releaseLegalHold: (_, args, ctx) => ctx.retention.releaseHold(ctx.auditAction, adminOf(ctx), args.id, args.reason),
    runAuditRetention: (_, args, ctx) => ctx.retention.run(ctx.auditAction, args.reason),
  },
  AuditPurge: {
    partition: (purge) => purge.partitionName,
    from: (purge) => purge.rangeFrom,
    to: (purge) => purge.rangeTo,
  },
  AuditCheckpoint: {
    at: (checkpoint) => new Date(checkpoint.at),
  },
  AuditEvent: {
    seq: (event) => Number(event.seq),
  },
};
