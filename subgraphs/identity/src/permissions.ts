import type { GraphQLSchema } from 'graphql';
import { or } from 'graphql-shield';
import { allow, guardSchema, isAuthenticated, isPlatformAdmin, isSubject, isTenant, isTenantAdmin } from '../../../shared/permissions';

const subjectOrPlatformAdmin = or(isSubject, isPlatformAdmin);

/** Every field named here; anything else stops start-up. Entity visibility is scoped in the service. */
export function applyPermissions(schema: GraphQLSchema): GraphQLSchema {
  return guardSchema(schema, {
    Query: {
      me: isSubject,
      user: isTenant,
      users: isTenant,
      tenants: isPlatformAdmin,
      myTenantLinks: isSubject,
      // Data export
      dataExportLink: isSubject,
      // Data subject requests
      myDataSubjectRequests: isSubject,
      dataSubjectRequest: isPlatformAdmin,
      dataSubjectRequests: isPlatformAdmin,
      // Webhooks (tenant admin; scoped to the caller's tenant in the service)
      webhookEndpoints: isTenantAdmin,
      webhookDeliveries: isTenantAdmin,
      // Tenant settings (tenant admin; scoped to the caller's tenant in the service)
      tenantSettings: isTenantAdmin,
    },
    Mutation: {
      createTenant: isPlatformAdmin,
      connectTenant: isSubject,
      // Data subject requests
      requestErasure: isSubject,
      requestDataExport: isSubject,
      openDataSubjectRequest: isPlatformAdmin,
      extendDataSubjectRequest: isPlatformAdmin,
      // Webhooks
      createWebhookEndpoint: isTenantAdmin,
      disableWebhookEndpoint: isTenantAdmin,
      enableWebhookEndpoint: isTenantAdmin,
      rotateWebhookSecret: isTenantAdmin,
      deleteWebhookEndpoint: isTenantAdmin,
      redeliverWebhook: isTenantAdmin,
      // Tenant settings
      setSafelistMode: isTenantAdmin,
      registerPersistedOperations: isTenantAdmin,
      setAllowedOrigins: isTenantAdmin,
      setStorefrontClients: isTenantAdmin,
      // Passports
      issuePassport: isSubject,
      // Tenant administration (a tenant admin acts on its own tenant's refs only, in the service)
      blockUser: isTenantAdmin,
      unblockUser: isTenantAdmin,
      suspendSubject: isPlatformAdmin,
      reinstateSubject: isPlatformAdmin,
      updateTenant: isPlatformAdmin,
      setTenantRateLimit: isPlatformAdmin,
    },
    // Reached only by platform-admin operations; through _entities no one else may read another tenant's settings.
    Tenant: isPlatformAdmin,
    TenantLink: isSubject,
    User: isAuthenticated,
    UserConnection: allow,
    UserEdge: allow,
    PageInfo: allow,
    // Reached only through the subject's own requests or a platform admin's queue.
    DataSubjectRequest: subjectOrPlatformAdmin,
    DataSubjectRequestStep: subjectOrPlatformAdmin,
    DeadlineExtension: subjectOrPlatformAdmin,
    DataSubjectRequestConnection: isPlatformAdmin,
    DataSubjectRequestEdge: isPlatformAdmin,
    DataExportLink: isSubject,
    // Webhooks
    WebhookEndpoint: isTenantAdmin,
    WebhookEndpointSecret: isTenantAdmin,
    WebhookDelivery: isTenantAdmin,
    WebhookDeliveryConnection: isTenantAdmin,
    WebhookDeliveryEdge: isTenantAdmin,
    // Tenant settings
    TenantSettings: isTenantAdmin,
    PersistedOperation: isTenantAdmin,
    UnsafelistedOperation: isTenantAdmin,
    PersistedOperationRegistration: isTenantAdmin,
    Passport: isSubject,
  });
}
