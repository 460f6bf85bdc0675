import { EntitySchema } from 'typeorm';
import type { ActorType } from '../../../../../shared/auth/principal';
import type { AuditAction, AuditDecision } from '../../../../../shared/audit/events';

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
    prevHash: { type: 'bytea', name: 'prev_hash' },
    hash: { type: 'bytea' },
  },
});

export const entities = [AuditEventEntity];
