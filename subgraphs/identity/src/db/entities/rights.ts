import { EntitySchema } from 'typeorm';

export const DSR_KINDS = ['ERASURE', 'EXPORT'] as const;
export type DsrKind = (typeof DSR_KINDS)[number];
export const DSR_STATUSES = ['RECEIVED', 'IN_PROGRESS', 'COMPLETED'] as const;
export type DsrStatus = (typeof DSR_STATUSES)[number];
export type DsrOpenedBy = 'SUBJECT' | 'PLATFORM_ADMIN' | 'IDP';
/** WAITING: the step did its part and waits on others (shops acknowledging a webhook). */
export type DsrStepStatus = 'PENDING' | 'RUNNING' | 'WAITING' | 'DONE' | 'SKIPPED' | 'IMPOSSIBLE';
export const FINAL_STEP_STATUSES: readonly DsrStepStatus[] = ['DONE', 'SKIPPED', 'IMPOSSIBLE'];

/** A data subject request (GDPR Art. 12): kind, deadline and its extension, outcome. */
export interface DsrRow {
  id: string;
  subjectId: string;
  kind: DsrKind;
  status: DsrStatus;
  openedBy: DsrOpenedBy;
  reason: string | null;
  receivedAt: Date;
  dueAt: Date;
  extendedMonths: number;
  extensionReason: string | null;
  /** Art. 12(3): the subject must be told of an extension, with reasons, within one month of receipt. */
  extensionNoticeDueAt: Date | null;
  legalHold: boolean;
  idpIssuer: string | null;
  idpUserId: string | null;
  completedAt: Date | null;
  downloadedAt: Date | null;
}

/** One system a request must reach (pii, consent, identity, identity provider, shops, audit). */
export interface DsrStepRow {
  requestId: string;
  system: string;
  position: number;
  status: DsrStepStatus;
  attempts: number;
  /** An error code, never a message from another system. */
  lastError: string | null;
  /** What the step did or why it could not: counts and codes, never personal data. */
  detail: string | null;
  updatedAt: Date;
  completedAt: Date | null;
}

/** A tenant to be told of an erasure, with the pairwise ref it knew the subject by. */
export interface DsrRecipientRow {
  requestId: string;
  tenantId: string;
  ref: string;
  erasedEventId: string | null;
}

export const DataSubjectRequestEntity = new EntitySchema<DsrRow>({
  name: 'DataSubjectRequest',
  tableName: 'data_subject_request',
  columns: {
    id: { type: 'uuid', primary: true },
    subjectId: { type: 'uuid', name: 'subject_id' },
    kind: { type: 'text' },
    status: { type: 'text' },
    openedBy: { type: 'text', name: 'opened_by' },
    reason: { type: 'text', nullable: true },
    receivedAt: { type: 'timestamptz', name: 'received_at' },
    dueAt: { type: 'timestamptz', name: 'due_at' },
    extendedMonths: { type: 'integer', name: 'extended_months' },
    extensionReason: { type: 'text', name: 'extension_reason', nullable: true },
    extensionNoticeDueAt: { type: 'timestamptz', name: 'extension_notice_due_at', nullable: true },
    legalHold: { type: 'boolean', name: 'legal_hold' },
    idpIssuer: { type: 'text', name: 'idp_issuer', nullable: true },
    idpUserId: { type: 'text', name: 'idp_user_id', nullable: true },
    completedAt: { type: 'timestamptz', name: 'completed_at', nullable: true },
    downloadedAt: { type: 'timestamptz', name: 'downloaded_at', nullable: true },
  },
});

export const DsrStepEntity = new EntitySchema<DsrStepRow>({
  name: 'DsrStep',
  tableName: 'dsr_step',
  columns: {
    requestId: { type: 'uuid', primary: true, name: 'request_id' },
    system: { type: 'text', primary: true },
    position: { type: 'integer' },
    status: { type: 'text' },
    attempts: { type: 'integer' },
    lastError: { type: 'text', name: 'last_error', nullable: true },
    detail: { type: 'text', nullable: true },
    updatedAt: { type: 'timestamptz', name: 'updated_at' },
    completedAt: { type: 'timestamptz', name: 'completed_at', nullable: true },
  },
});

export const DsrRecipientEntity = new EntitySchema<DsrRecipientRow>({
  name: 'DsrRecipient',
  tableName: 'dsr_recipient',
  columns: {
    requestId: { type: 'uuid', primary: true, name: 'request_id' },
    tenantId: { type: 'uuid', primary: true, name: 'tenant_id' },
    ref: { type: 'text' },
    erasedEventId: { type: 'text', name: 'erased_event_id', nullable: true },
  },
});

export const rightsEntities = [DataSubjectRequestEntity, DsrStepEntity, DsrRecipientEntity];
