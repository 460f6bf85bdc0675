import { z } from 'zod';
import type { InternalApiConfig } from './config';
import { internalClientFor } from './internal-api';

/**
 * Identity's internal webhook API: other services' outboxes (consent) relay their events here, and
 * identity stores and delivers them to the shops (subgraphs/identity/src/services/webhook-service.ts).
 * One module for both sides: path, schema, types, client.
 */
export const WEBHOOK_PATHS = {
  events: '/internal/v1/webhooks/events',
} as const;

/** Event types other services may relay: consent's own. Identity emits the rest itself, and nobody may forge them. */
export const RELAYED_EVENT_TYPES = ['consent.granted', 'consent.withdrawn'] as const;
/** The most events one relay call may carry. */
export const MAX_RELAY_EVENTS = 100;

const dataValue = z.union([z.string().max(200), z.number(), z.boolean(), z.null()]);

export const relayedEventSchema = z.object({
  /** The idempotency key (the outbox row's id); it becomes the `webhook-id`. A replay with the same id creates nothing new. */
  id: z.uuid(),
  /** When the change happened (not when it was relayed): shops order events by it. */
  occurredAt: z.iso.datetime({ offset: true }).optional(),
  tenantId: z.uuid(),
  type: z.enum(RELAYED_EVENT_TYPES),
  /** Refs and ids only, never personal data: flat values or lists of them. */
  data: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), z.union([dataValue, z.array(dataValue).max(50)])).refine((d) => Object.keys(d).length <= 30),
});

export const relayEventsSchema = z.object({ events: z.array(relayedEventSchema).min(1).max(MAX_RELAY_EVENTS) });

export type RelayedEvent = z.infer<typeof relayedEventSchema>;
export interface RelayEventsResponse {
  events: { eventId: string; deliveries: number }[];
}

export interface WebhookRelay {
  /** Hands events to identity; resolves once they are stored (idempotent by id), rejects when identity is unreachable. */
  relay(events: RelayedEvent[]): Promise<RelayEventsResponse>;
}

export function createWebhookRelayClient(config: InternalApiConfig): WebhookRelay {
  const client = internalClientFor(config, 'identity');
  return {
    relay: (events) => client.post<RelayEventsResponse>(WEBHOOK_PATHS.events, { events }),
  };
}
