import type { Resolvers } from '../__generated__/resolvers-types';
import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import type { AuditContext } from '../context';
import { privgraphError } from '../../../../shared/errors';
import { CheckpointSinkError } from '../services/checkpoints';
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
  Mutation: {
    createAuditCheckpoint: async (_, __, ctx) => {
      try {
        return await ctx.checkpointer.checkpointNow();
      } catch (error) {
        if (error instanceof CheckpointSinkError) throw privgraphError('CHECKPOINT_UNAVAILABLE', 'The checkpoint store cannot be written; no checkpoint was made');
        throw error;
      }
    },
  },
  AuditCheckpoint: {
    at: (checkpoint) => new Date(checkpoint.at),
  },
  AuditEvent: {
    seq: (event) => Number(event.seq),
  },
};
