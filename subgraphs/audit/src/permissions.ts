import type { GraphQLSchema } from 'graphql';
import { allow, canReadTenantAudit, guardSchema, isPlatformAdmin, isSubject } from '../../../shared/permissions';

export function applyPermissions(schema: GraphQLSchema): GraphQLSchema {
  return guardSchema(schema, {
    Query: { auditEvents: canReadTenantAudit, verifyAuditLog: isPlatformAdmin, myAccessLog: isSubject, auditRetention: isPlatformAdmin },
    Mutation: {
      createAuditCheckpoint: isPlatformAdmin,
      setAuditRetention: isPlatformAdmin,
      placeLegalHold: isPlatformAdmin,
      releaseLegalHold: isPlatformAdmin,
      runAuditRetention: isPlatformAdmin,
    },
    AuditRetention: allow,
    TenantAuditRetention: allow,
    LegalHold: allow,
    AuditPartition: allow,
    AuditPurge: allow,
    AuditRetentionRun: allow,
    AuditCheckpoint: allow,
    AccessLogEntry: allow,
    AccessLogEdge: allow,
    AccessLogConnection: allow,
    AuditEvent: allow,
    AuditEventConnection: allow,
    AuditEventEdge: allow,
    AuditVerification: allow,
    PageInfo: allow,
  });
}
