import { EntitySchema } from 'typeorm';

export type WebhookEndpointStatus = 'ENABLED' | 'DISABLED' | 'DELETED';
export type WebhookDeliveryStatus = 'PENDING' | 'DELIVERED' | 'FAILED';

export interface WebhookEndpointRow {
  id: string;
  tenantId: string;
  url: string;
  description: string | null;
  /** Dotted event type names (`consent.granted`). */
  events: string[];
  status: WebhookEndpointStatus;
  /** `whsec_…`; null once deleted. */
  secret: string | null;
  /** The secret before the last rotation, still signing until previousSecretExpiresAt. */
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface WebhookEventRow {
  /** The Standard Webhooks `webhook-id`, stable across retries and redeliveries. */
  id: string;
  tenantId: string;
  type: string;
  /** Refs and ids only, never personal data. */
  data: Record<string, unknown>;
  occurredAt: Date;
}

export interface WebhookDeliveryRow {
  id: string;
  eventId: string;
  endpointId: string;
  tenantId: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** Attempts since the delivery was created or last redelivered (indexes the retry schedule). */
  cycleAttempts: number;
  lastHttpStatus: number | null;
  lastError: string | null;
  lastAttemptAt: Date | null;
  nextAttemptAt: Date | null;
  /** After this time a failing delivery is FAILED. */
  deadlineAt: Date;
  /** A worker holds the attempt until then (so two jobs never send the same attempt). */
  leaseUntil: Date | null;
  /** The job that may make the next attempt; any other job for the delivery is stale and does nothing. */
  jobToken: string;
  deliveredAt: Date | null;
  createdAt: Date;
}

export const WebhookEndpointEntity = new EntitySchema<WebhookEndpointRow>({
  name: 'WebhookEndpoint',
  tableName: 'webhook_endpoint',
  columns: {
    id: { type: 'uuid', primary: true },
    tenantId: { type: 'uuid', name: 'tenant_id' },
    url: { type: 'text' },
    description: { type: 'text', nullable: true },
    events: { type: 'text', array: true },
    status: { type: 'text' },
    secret: { type: 'text', nullable: true },
    previousSecret: { type: 'text', name: 'previous_secret', nullable: true },
    previousSecretExpiresAt: { type: 'timestamptz', name: 'previous_secret_expires_at', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at' },
    updatedAt: { type: 'timestamptz', name: 'updated_at' },
  },
});

export const WebhookEventEntity = new EntitySchema<WebhookEventRow>({
  name: 'WebhookEvent',
  tableName: 'webhook_event',
  columns: {
    id: { type: 'text', primary: true },
    tenantId: { type: 'uuid', name: 'tenant_id' },
    type: { type: 'text' },
    data: { type: 'jsonb' },
    occurredAt: { type: 'timestamptz', name: 'occurred_at' },
  },
});

export const WebhookDeliveryEntity = new EntitySchema<WebhookDeliveryRow>({
  name: 'WebhookDelivery',
  tableName: 'webhook_delivery',
  columns: {
    id: { type: 'uuid', primary: true },
    eventId: { type: 'text', name: 'event_id' },
    endpointId: { type: 'uuid', name: 'endpoint_id' },
    tenantId: { type: 'uuid', name: 'tenant_id' },
    status: { type: 'text' },
    attempts: { type: 'integer' },
    cycleAttempts: { type: 'integer', name: 'cycle_attempts' },
    lastHttpStatus: { type: 'integer', name: 'last_http_status', nullable: true },
    lastError: { type: 'text', name: 'last_error', nullable: true },
    lastAttemptAt: { type: 'timestamptz', name: 'last_attempt_at', nullable: true },
    nextAttemptAt: { type: 'timestamptz', name: 'next_attempt_at', nullable: true },
    deadlineAt: { type: 'timestamptz', name: 'deadline_at' },
    leaseUntil: { type: 'timestamptz', name: 'lease_until', nullable: true },
    jobToken: { type: 'uuid', name: 'job_token' },
    deliveredAt: { type: 'timestamptz', name: 'delivered_at', nullable: true },
    createdAt: { type: 'timestamptz', name: 'created_at' },
  },
});

export const webhookEntities = [WebhookEndpointEntity, WebhookEventEntity, WebhookDeliveryEntity];
