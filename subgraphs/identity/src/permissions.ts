import type { GraphQLSchema } from 'graphql';
import { allow, guardSchema, isAuthenticated, isPlatformAdmin, isSubject, isTenant } from '../../../shared/permissions';

/** Every field named here; anything else stops start-up. Entity visibility is scoped in the service. */
export function applyPermissions(schema: GraphQLSchema): GraphQLSchema {
  return guardSchema(schema, {
    Query: { me: isSubject, user: isTenant, users: isTenant, tenants: isPlatformAdmin, myTenantLinks: isSubject },
    Mutation: { createTenant: isPlatformAdmin, connectTenant: isSubject },
    // Reached only by platform-admin operations; through _entities no one else may read another tenant's settings.
    Tenant: isPlatformAdmin,
    TenantLink: isSubject,
    User: isAuthenticated,
    UserConnection: allow,
    UserEdge: allow,
    PageInfo: allow,
  });
}
