import type { Router } from 'express';
import { z } from 'zod';
import { DIRECTORY_PATHS } from '../../../shared/directory-client';
import { internalHandler } from '../../../shared/internal-api';
import type { Logger } from '../../../shared/logger';
import type { IdentityService } from './services/identity-service';
import { relayEventsSchema, WEBHOOK_PATHS } from '../../../shared/webhook-client';
import type { WebhookService } from './services/webhook-service';
import { IDP_EVENT_PATHS, idpEventSchema } from '../../../shared/idp-events-client';
import type { IdpEventService } from './services/idp-event-service';
import { STANDING_PATH, standingRequestSchema, type StandingResponse } from '../../../shared/standing-client';
import type { TenantAdminService } from './services/tenant-admin-service';
import { operationBodyRequestSchema, originsRequestSchema, policyRequestSchema, reportsRequestSchema, TENANT_POLICY_PATHS } from '../../../shared/tenant-policy-client';
import type { TenantSettingsService } from './services/tenant-settings-service';

const id = z.string().min(1).max(200);
const strip = (path: string) => path.replace(/^\/internal/, '');

/** The directory other services use to map tokens and refs onto internal ids. */
export function directoryRoutes(identity: IdentityService, logger: Logger) {
  const { directory } = identity;
  return (router: Router) => {
    router.post(
      strip(DIRECTORY_PATHS.resolveSubject),
      internalHandler(z.object({ issuer: id, sub: id }), (b) => directory.resolveSubject(b.issuer, b.sub), logger),
    );
    router.post(
      strip(DIRECTORY_PATHS.resolveTenant),
      internalHandler(z.object({ organizationId: id }), async (b) => ({
        tenantId: (await directory.resolveTenant(b.organizationId))?.tenantId ?? null,
      }), logger),
    );
    router.post(
      strip(DIRECTORY_PATHS.tenantNames),
      internalHandler(z.object({ tenantIds: z.array(id).max(1000) }), async (b) => ({
        names: Object.fromEntries(await directory.tenantNames(b.tenantIds)),
      }), logger),
    );
    router.post(
      strip(DIRECTORY_PATHS.refsForSubjects),
      internalHandler(z.object({ tenantId: id, subjectIds: z.array(id).max(5000) }), async (b) => ({
        refs: Object.fromEntries(await directory.refsForSubjects(b.tenantId, b.subjectIds)),
      }), logger),
    );
    router.post(
      strip(DIRECTORY_PATHS.existingSubjects),
      internalHandler(z.object({ subjectIds: z.array(id).max(1000) }), async (b) => ({
        subjectIds: [...(await directory.existingSubjects(b.subjectIds))],
      }), logger),
    );
    router.post(
      strip(DIRECTORY_PATHS.subjectForRef),
      internalHandler(z.object({ tenantId: id, ref: id }), async (b) => ({
        subjectId: await directory.subjectForRef(b.tenantId, b.ref),
      }), logger),
    );
  };
}

// Identity-provider events (Logto webhooks, verified by the gateway)
/** POST /internal/v1/idp/events: one verified IdP event; answers { duplicate, outcome }. */
export function idpEventRoutes(idpEvents: IdpEventService, logger: Logger) {
  return (router: Router) => {
    router.post(strip(IDP_EVENT_PATHS.handle), internalHandler(idpEventSchema, (event) => idpEvents.handle(event), logger));
  };
}

// Standing (docs/tenant-admin.md)
/** POST /internal/v1/directory/standing { tenantId, subjectIds } → { standings }: BLOCKED or ACTIVE per connected subject. */
export function standingRoutes(tenantAdmin: TenantAdminService, logger: Logger) {
  return (router: Router) => {
    router.post(
      strip(STANDING_PATH),
      internalHandler(standingRequestSchema, async (b): Promise<StandingResponse> => ({ standings: await tenantAdmin.standings(b.tenantId, b.subjectIds) }), logger),
    );
  };
}

// Webhooks
/** POST /internal/v1/webhooks/events: events from other services' outboxes, idempotent by id; answers { events: [{ eventId, deliveries }] }. */
export function webhookRoutes(webhooks: WebhookService, logger: Logger) {
  return (router: Router) => {
    router.post(
      strip(WEBHOOK_PATHS.events),
      internalHandler(relayEventsSchema, async (body) => ({
        events: (await webhooks.relay(body.events.map((e) => ({ ...e, occurredAt: e.occurredAt ? new Date(e.occurredAt) : undefined })))).map(({ eventId, deliveries }) => ({
          eventId,
          deliveries,
        })),
      }), logger),
    );
  };
}

// Tenant policy (the gateway's safelist, persisted operations and CORS origins)
/** The gateway reads each tenant's safelist policy, registered bodies and allowed origins, and reports REPORT-mode counts. */
export function tenantPolicyRoutes(settings: TenantSettingsService, logger: Logger) {
  return (router: Router) => {
    router.post(strip(TENANT_POLICY_PATHS.policy), internalHandler(policyRequestSchema, (b) => settings.policyOf(b.organizationId), logger));
    router.post(
      strip(TENANT_POLICY_PATHS.operationBody),
      internalHandler(operationBodyRequestSchema, async (b) => ({ body: await settings.operationBody(b.operationId) }), logger),
    );
    router.post(strip(TENANT_POLICY_PATHS.origins), internalHandler(originsRequestSchema, async () => ({ origins: await settings.allowedOrigins() }), logger));
    router.post(strip(TENANT_POLICY_PATHS.reports), internalHandler(reportsRequestSchema, async (b) => ({ accepted: await settings.recordReports(b.reports) }), logger));
  };
}
