import { EntitySchema } from 'typeorm';
import type { ActorType } from '../../../../../shared/auth/principal';
import type { AuditAction, AuditDecision, AuditOutcome } from '../../../../../shared/audit/events';
import type { UserAgentClass } from '../../../../../shared/origin';

export interface AuditEventRow {
  seq: string;
  occurredAt: Date;
  actorType: ActorType;
  actorId: string | null;
  tenantId: string | null;
  subjectId: string | null;
  action: AuditAction;
  field: string | null;
  purpose: string | null;
  decision: AuditDecision;
  reason: string;
  consentId: string | null;
  requestId: string;
  /** FAILED on an outcome event; null otherwise (docs/audit.md#outcomes). */
  outcome: AuditOutcome | null;
  /** The client's network (truncated or keyed-hashed) and user-agent class; null before they were recorded. */
  origin: string | null;
  userAgentClass: UserAgentClass | null;
  prevHash: Buffer;
  hash: Buffer;
}

export const AuditEventEntity = new EntitySchema<AuditEventRow>({
  name: 'AuditEvent',
  tableName: 'audit_event',
  columns: {
    seq: { type: 'bigint', primary: true },
    occurredAt: { type: 'timestamptz', name: 'occurred_at' },
    actorType: { type: 'text', name: 'actor_type' },
    actorId: { type: 'text', name: 'actor_id', nullable: true },
    tenantId: { type: 'uuid', name: 'tenant_id', nullable: true },
    subjectId: { type: 'uuid', name: 'subject_id', nullable: true },
    action: { type: 'text' },
    field: { type: 'text', nullable: true },
    purpose: { type: 'text', nullable: true },
    decision: { type: 'text' },
    reason: { type: 'text' },
    consentId: { type: 'uuid', name: 'consent_id', nullable: true },
    requestId: { type: 'text', name: 'request_id' },
    outcome: { type: 'text', nullable: true },
    origin: { type: 'text', name: 'client_origin', nullable: true },
    userAgentClass: { type: 'text', name: 'user_agent_class', nullable: true },
    prevHash: { type: 'bytea', name: 'prev_hash' },
    hash: { type: 'bytea' },
  },
});

export const entities = [AuditEventEntity];
