import type { ActorType } from '../auth/principal';

/**
 * The audit event as services hand it to the audit log. It carries opaque ids, field names and
 * codes only: never a value of personal data.
 */
export const AUDIT_ACTIONS = ['PII_READ', 'PII_WRITE'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export type AuditDecision = 'ALLOW' | 'DENY';

export interface AuditEventInput {
  occurredAt: string;
  actorType: ActorType;
  actorId: string | null;
  tenantId: string | null;
  subjectId: string | null;
  action: AuditAction;
  field: string | null;
  purpose: string | null;
  decision: AuditDecision;
  /** ALLOW: why (CONSENT, SELF); DENY: the error code returned to the caller. */
  reason: string;
  consentId: string | null;
  requestId: string;
}

/** Appends events durably: the promise resolves only after the events are committed. */
export interface AuditSink {
  append(events: AuditEventInput[]): Promise<void>;
}

export const AUDIT_INGEST_PATH = '/internal/v1/audit/events';
