import { EntitySchema } from 'typeorm';
import type { PiiCategory } from '../../../../../shared/pii';

export interface ConsentRow {
  id: string;
  subjectId: string;
  tenantId: string;
  purpose: string;
  categories: PiiCategory[];
  policyVersion: string;
  grantedAt: Date;
  expiresAt: Date | null;
  withdrawnAt: Date | null;
  supersededAt: Date | null;
}

export type ConsentEventType = 'GRANTED' | 'WITHDRAWN' | 'SUPERSEDED';

/** Append-only history (UPDATE and DELETE are rejected by a trigger). */
export interface ConsentEventRow {
  id?: string;
  consentId: string;
  subjectId: string;
  tenantId: string;
  type: ConsentEventType;
  occurredAt: Date;
  purpose: string;
  categories: PiiCategory[];
  policyVersion: string;
}

export const ConsentEntity = new EntitySchema<ConsentRow>({
  name: 'Consent',
  tableName: 'consent',
  columns: {
    id: { type: 'uuid', primary: true },
    subjectId: { type: 'uuid', name: 'subject_id' },
    tenantId: { type: 'uuid', name: 'tenant_id' },
    purpose: { type: 'text' },
    categories: { type: 'text', array: true },
    policyVersion: { type: 'text', name: 'policy_version' },
    grantedAt: { type: 'timestamptz', name: 'granted_at' },
    expiresAt: { type: 'timestamptz', name: 'expires_at', nullable: true },
    withdrawnAt: { type: 'timestamptz', name: 'withdrawn_at', nullable: true },
    supersededAt: { type: 'timestamptz', name: 'superseded_at', nullable: true },
  },
});

export const ConsentEventEntity = new EntitySchema<ConsentEventRow>({
  name: 'ConsentEvent',
  tableName: 'consent_event',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment' },
    consentId: { type: 'uuid', name: 'consent_id' },
    subjectId: { type: 'uuid', name: 'subject_id' },
    tenantId: { type: 'uuid', name: 'tenant_id' },
    type: { type: 'text' },
    occurredAt: { type: 'timestamptz', name: 'occurred_at' },
    purpose: { type: 'text' },
    categories: { type: 'text', array: true },
    policyVersion: { type: 'text', name: 'policy_version' },
  },
});

export const entities = [ConsentEntity, ConsentEventEntity];
