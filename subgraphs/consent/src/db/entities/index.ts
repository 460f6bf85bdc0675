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
  /** How consent was collected (receipt field collectionMethod); null for consents from before receipts. */
  collectionMethod: string | null;
}

export type LawfulBasis = 'CONSENT' | 'CONTRACT' | 'LEGAL_OBLIGATION' | 'VITAL_INTERESTS' | 'PUBLIC_TASK' | 'LEGITIMATE_INTERESTS';

export interface PurposeDeclaration {
  key: string;
  description: string;
  categories: PiiCategory[];
  lawfulBasis: LawfulBasis;
  retentionDays: number;
}

/** A published policy version: immutable once written. */
export interface PolicyVersionRow {
  seq?: string;
  tenantId: string;
  version: string;
  url: string;
  textHash: string;
  effectiveAt: Date;
  publishedAt: Date;
  purposes: PurposeDeclaration[];
}

export type ConsentReceiptKind = 'GRANT' | 'WITHDRAWAL';

/** A signed consent receipt as issued (compact JWS); immutable once written. */
export interface ConsentReceiptRow {
  id: string;
  consentId: string;
  subjectId: string;
  tenantId: string;
  kind: ConsentReceiptKind;
  issuedAt: Date;
  jws: string;
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
    collectionMethod: { type: 'text', name: 'collection_method', nullable: true },
  },
});

export const PolicyVersionEntity = new EntitySchema<PolicyVersionRow>({
  name: 'PolicyVersion',
  tableName: 'policy_version',
  columns: {
    seq: { type: 'bigint', primary: true, generated: 'increment' },
    tenantId: { type: 'uuid', name: 'tenant_id' },
    version: { type: 'text' },
    url: { type: 'text' },
    textHash: { type: 'text', name: 'text_hash' },
    effectiveAt: { type: 'timestamptz', name: 'effective_at' },
    publishedAt: { type: 'timestamptz', name: 'published_at' },
    purposes: { type: 'jsonb' },
  },
});

export const ConsentReceiptEntity = new EntitySchema<ConsentReceiptRow>({
  name: 'ConsentReceipt',
  tableName: 'consent_receipt',
  columns: {
    id: { type: 'uuid', primary: true },
    consentId: { type: 'uuid', name: 'consent_id' },
    subjectId: { type: 'uuid', name: 'subject_id' },
    tenantId: { type: 'uuid', name: 'tenant_id' },
    kind: { type: 'text' },
    issuedAt: { type: 'timestamptz', name: 'issued_at' },
    jws: { type: 'text' },
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

export const entities = [ConsentEntity, ConsentEventEntity, PolicyVersionEntity, ConsentReceiptEntity];
