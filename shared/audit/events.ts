import type { ActorType } from '../auth/principal';
import type { UserAgentClass } from '../origin';

/**
 * The audit event as services hand it to the audit log. It carries opaque ids, field names and
 * codes only: never a value of personal data.
 */
export const AUDIT_ACTIONS = [
  'PII_READ',
  'PII_WRITE',
  /** A platform admin's exact-match lookup through the blind index (purpose = the stated reason). */
  'PII_LOOKUP',
  /** Key operations on a region's KEK; `field` names the region as `Region.<code>`. */
  'KEY_ROTATE',
  'KEY_RETIRE',
  /** A subject's fields re-encrypted under a fresh data key. */
  'DEK_REKEY',
  /** A subject's data keys destroyed (crypto-shredding). */
  'SUBJECT_SHRED',
  /** A subject's profile copied to another region and erased from the old one; `field` = `Region.<target>`. */
  'SUBJECT_MOVE',
  /** A subject granted a consent (purpose, consent id and tenant recorded). */
  'CONSENT_GRANT',
  /** A subject withdrew a consent. */
  'CONSENT_WITHDRAW',
  /** A tenant admin published a policy version; `field` = `PolicyVersion.<version>`. */
  'POLICY_PUBLISH',
  /** A platform admin registered a tenant. */
  'TENANT_CREATE',
  /** A subject connected to a tenant (the tenant receives a pairwise ref). */
  'TENANT_CONNECT',
  /** A tenant or platform admin exported audit events (`tenantId` = the exported tenant, null = all). */
  'AUDIT_EXPORT',
  /** A platform admin set a tenant's audit retention; `field` = `AuditRetention.<days>`. */
  'AUDIT_RETENTION_SET',
  /** A platform admin placed a legal hold on a tenant's or a subject's events; `field` = `LegalHold.<id>`. */
  'LEGAL_HOLD_PLACE',
  'LEGAL_HOLD_RELEASE',
  /** The retention job removed a month partition of expired events; `field` = `AuditPartition.<name>`. */
  'AUDIT_PURGE',
  /** A data subject request was opened (field = `DataSubjectRequest.<KIND>`; by the subject, an admin or the IdP). */
  'DSR_OPEN',
  /** A data subject request or one of its steps changed status (field = `DataSubjectRequest.<STATUS>` or `Erasure.<system>`). */
  'DSR_TRANSITION',
  /** A platform admin extended a request's deadline (field = `DataSubjectRequest.<months>`, purpose = reason). */
  'DSR_EXTEND',
  /** A subject downloaded their data export (field = `DataSubjectRequest.EXPORT`). */
  'DATA_EXPORT_DOWNLOAD',
  /** The identity provider reported a new account, provisioned here. */
  'SUBJECT_PROVISION',
  /** The identity provider suspended or reinstated an account (field = `Subject.<status>`). */
  'SUBJECT_SUSPEND',
  /** A tenant admin registered a webhook endpoint (field = `WebhookEndpoint.<id>`). */
  'WEBHOOK_ENDPOINT_CREATE',
  /** A tenant admin disabled, enabled or rotated the secret of a webhook endpoint. */
  'WEBHOOK_ENDPOINT_UPDATE',
  'WEBHOOK_ENDPOINT_DELETE',
  /** A tenant admin asked for a delivery to be sent again (field = `WebhookDelivery.<id>`). */
  'WEBHOOK_REDELIVER',
  /** A subject had a passport issued for a tenant (tenantId = the audience). */
  'PASSPORT_ISSUE',
  /** A tenant admin blocked a user for its tenant (purpose = the reason code). */
  'USER_BLOCK',
  /** A tenant admin lifted its block of a user. */
  'USER_UNBLOCK',
  /** A platform admin renamed a tenant or changed its IdP organization id (one event per attribute changed: field = `Tenant.name` or `Tenant.idpOrganizationId`). */
  'TENANT_UPDATE',
  /** A tenant admin changed a tenant setting (field = `SafelistMode.<mode>` or `AllowedOrigins.<count>`). */
  'TENANT_SETTINGS_SET',
  /** A tenant admin registered a persisted-operation manifest (field = `PersistedOperations.<ADD|REPLACE>.<count>`). */
  'OPERATION_MANIFEST_REGISTER',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export type AuditDecision = 'ALLOW' | 'DENY';
/**
 * What became of an authorized action: FAILED on the outcome event recorded when the action failed
 * after its (write-ahead) event was committed. Absent (null) on every other event (docs/audit.md#outcomes).
 */
export const AUDIT_OUTCOMES = ['FAILED'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

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
  /** ALLOW: why (CONSENT, CONSENT_MASKED, SELF, ADMIN); DENY: the error code returned to the caller. */
  reason: string;
  consentId: string | null;
  requestId: string;
  /** The client's network, truncated or keyed-hashed, never a full address (shared/origin.ts); null or absent when unknown. */
  origin?: string | null;
  /** The class of the client's user agent (never the raw string); null or absent for work no request asked for. */
  userAgentClass?: UserAgentClass | null;
  /** Set only on an outcome event (docs/audit.md#outcomes); absent or null otherwise. */
  outcome?: AuditOutcome | null;
}

export interface AppendOptions {
  /**
   * When the caller stops waiting (epoch ms). The events are never committed after it: an append
   * that cannot commit in time fails, so a caller that gave up never leaves its events behind.
   */
  deadline?: number;
}

/** Appends events durably: the promise resolves only after the events are committed. */
export interface AuditSink {
  append(events: AuditEventInput[], options?: AppendOptions): Promise<void>;
}

export const AUDIT_INGEST_PATH = '/internal/v1/audit/events';
