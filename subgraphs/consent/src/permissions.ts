import type { GraphQLSchema } from 'graphql';
import { allow, guardSchema, isAuthenticated, isSubject, isTenantAdmin } from '../../../shared/permissions';

export function applyPermissions(schema: GraphQLSchema): GraphQLSchema {
  return guardSchema(schema, {
    Query: { tenantPolicy: isAuthenticated, policyVersions: isTenantAdmin, consentReceipt: isAuthenticated },
    Mutation: { publishPolicyVersion: isTenantAdmin, grantConsent: isSubject, withdrawConsent: isSubject },
    // Visibility is scoped per principal in the service: own consents, or those given to the calling tenant.
    User: isAuthenticated,
    Consent: allow,
    ConsentEvent: allow,
    ConsentReceipt: allow,
    PolicyVersion: allow,
    Purpose: allow,
  });
}
