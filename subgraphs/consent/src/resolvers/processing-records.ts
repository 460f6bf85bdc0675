import type { Resolvers } from '../__generated__/resolvers-types';
import type { ConsentContext } from '../context';

/** Records of processing (GDPR Art. 30): tenant admins of the tenant and platform admins (permissions.ts). */
export const processingRecordsResolvers: Resolvers<ConsentContext> = {
  Query: {
    processingRecords: (_, args, ctx) => ctx.processingRecords.recordsFor(ctx.principal, args.tenantId),
  },
};
