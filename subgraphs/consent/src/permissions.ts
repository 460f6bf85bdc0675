import type { GraphQLSchema } from 'graphql';
import { rule } from 'graphql-shield';
import type { ServiceContext } from '../../../shared/context';
import { forbidden, privgraphError } from '../../../shared/errors';
import { allow, guardSchema, isAuthenticated, isSubject, isTenantAdmin } from '../../../shared/permissions';

// Records of processing
/** A tenant admin (the service then checks it is this tenant) or a platform admin. */
const isTenantAdminOrPlatformAdmin = rule({ cache: 'contextual' })((_p, _a, ctx: ServiceContext) => {
  const { principal } = ctx;
  if (principal.kind === 'anonymous') return privgraphError('UNAUTHENTICATED', 'A valid access token is required');
  if (principal.kind === 'platform_admin') return true;
  if (principal.kind === 'tenant') return principal.isTenantAdmin ? true : privgraphError('SCOPE_REQUIRED', 'This operation needs the tenant:admin scope');
  return forbidden();
});

export function applyPermissions(schema: GraphQLSchema): GraphQLSchema {
  return guardSchema(schema, {
    Query: {
      tenantPolicy: isAuthenticated,
      policyVersions: isTenantAdmin,
      consentReceipt: isAuthenticated,
      // Records of processing
      processingRecords: isTenantAdminOrPlatformAdmin,
    },
    Mutation: { publishPolicyVersion: isTenantAdmin, grantConsent: isSubject, withdrawConsent: isSubject },
    // Visibility is scoped per principal in the service: own consents, or those given to the calling tenant.
    User: isAuthenticated,
    Consent: allow,
    ConsentEvent: allow,
    ConsentReceipt: allow,
    PolicyVersion: allow,
    Purpose: allow,
    // Records of processing
    ProcessingRecords: allow,
    ProcessingActivity: allow,
    ProcessingRecipient: allow,
  });
}
