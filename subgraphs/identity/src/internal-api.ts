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
