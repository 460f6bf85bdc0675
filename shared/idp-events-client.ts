import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { InternalApiConfig } from './config';
import { internalClientFor } from './internal-api';

/**
 * The identity service's internal API for identity-provider events (Logto webhooks, verified and
 * parsed by the gateway): one path, one schema for both sides, one client.
 */
export const IDP_EVENT_PATHS = {
  handle: '/internal/v1/idp/events',
} as const;

/** The Logto hook events privgraph acts on; every other event is acknowledged and ignored by the gateway. */
export const IDP_EVENT_TYPES = ['User.Created', 'User.Deleted', 'User.SuspensionStatus.Updated'] as const;
export type IdpEventType = (typeof IDP_EVENT_TYPES)[number];

export const idpEventSchema = z
  .object({
    /** Logto's hook id (`hookId` of the payload): which configured webhook sent the event. */
    hookId: z.string().min(1).max(128),
    type: z.enum(IDP_EVENT_TYPES),
    /** The payload's `createdAt` as sent (kept verbatim: it is part of the dedupe key). */
    createdAt: z.iso.datetime({ offset: true }),
    /** The Logto user id, i.e. the `sub` of that user's tokens. */
    userId: z.string().min(1).max(200),
    /** `User.SuspensionStatus.Updated` only: the user's new `isSuspended`. */
    suspended: z.boolean().optional(),
  })
  .refine((event) => event.type !== 'User.SuspensionStatus.Updated' || event.suspended !== undefined, {
    message: 'suspended is required for User.SuspensionStatus.Updated',
    path: ['suspended'],
  });
export type IdpEvent = z.infer<typeof idpEventSchema>;

export const IDP_EVENT_OUTCOMES = ['PROVISIONED', 'ERASURE_OPENED', 'BLOCKED', 'REINSTATED', 'UNKNOWN_USER', 'STALE', 'NO_CHANGE'] as const;
export type IdpEventOutcome = (typeof IDP_EVENT_OUTCOMES)[number];

export const idpEventResultSchema = z.object({
  /** The event's dedupe key had been handled before: nothing was changed. */
  duplicate: z.boolean(),
  outcome: z.enum(IDP_EVENT_OUTCOMES),
});
export type IdpEventResult = z.infer<typeof idpEventResultSchema>;

/**
 * The dedupe key of a hook event. Logto sends no event id (neither a header nor a payload field: a
 * data hook payload is `hookId`, `event`, `createdAt`, request context and `data`), but it retries a
 * failed delivery with the very same payload, so a hash of the fields that identify the event is
 * stable across retries and differs between events: SHA-256 of hookId, event, createdAt and userId.
 */
export function idpEventKey(event: Pick<IdpEvent, 'hookId' | 'type' | 'createdAt' | 'userId'>): string {
  return createHash('sha256').update(JSON.stringify([event.hookId, event.type, event.createdAt, event.userId])).digest('hex');
}

export interface IdpEventsClient {
  handle(event: IdpEvent): Promise<IdpEventResult>;
}

/** The gateway's side: throws DependencyUnavailableError('directory') when identity cannot handle the event now. */
export function createIdpEventsClient(config: InternalApiConfig): IdpEventsClient {
  const client = internalClientFor(config, 'identity');
  return {
    async handle(event) {
      return idpEventResultSchema.parse(await client.post<unknown>(IDP_EVENT_PATHS.handle, event));
    },
  };
}
