import type { GraphQLSchema } from 'graphql';
import { allow, guardSchema, isPlatformAdmin, isTenantOrPlatformAdmin } from '../../../shared/permissions';

export function applyPermissions(schema: GraphQLSchema): GraphQLSchema {
  return guardSchema(schema, {
    Query: { auditEvents: isTenantOrPlatformAdmin, verifyAuditLog: isPlatformAdmin },
    AuditEvent: allow,
    AuditEventConnection: allow,
    AuditEventEdge: allow,
    AuditVerification: allow,
    PageInfo: allow,
  });
}
