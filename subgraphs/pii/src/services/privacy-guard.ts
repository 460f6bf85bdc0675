import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import type { AuditEventInput, AuditSink } from '../../../../shared/audit/events';
import { auditedEffect, createActionAuditor, type ActionAuditor } from '../../../../shared/audit/actions';
import { createRequestAuditRecorder } from '../../../../shared/audit/recorder';
import { actorOf, type Principal, type TenantPrincipal } from '../../../../shared/auth/principal';
import type { ActiveConsent, ConsentLookups } from '../../../../shared/consent-client';
import type { Standing, StandingLookups } from '../../../../shared/standing-client';
import { privgraphError } from '../../../../shared/errors';
import type { PiiField } from '../../../../shared/permissions';
import { componentLogger } from '../../../../shared/logger';
import type { RequestOrigin } from '../../../../shared/origin';
import type { PiiMask } from '../../../../shared/pii';
import { deadlineExceeded, DEADLINE_EXCEEDED_MESSAGE, isDeadlineError, type Deadline } from '../../../../shared/deadline';
import { decideAccess, needsConsent, type AccessDecision } from './access-policy';
import type { BreakGlassGrant } from './break-glass';

export interface GuardRequest {
  principal: Principal;
  purpose: string | null;
  purposeMalformed: boolean;
  requestId: string;
  /** Where the request came from (shared/origin.ts); every event of the request carries it. */
  origin?: RequestOrigin;
  /** The request's deadline: lookups get what is left of it, and no value goes out after it (docs/security.md#deadlines). */
  deadline?: Deadline;
}

export type PrivacyGuard = ReturnType<typeof createPrivacyGuard>;

/** Failures are logged by error class and request id only: no subject data. */
const logger = componentLogger('pii.guard');

/**
 * Per-request enforcement of the privacy contract. For each PII field: decide, then durably audit
 * the decision (allow and deny alike), and only then let the value go. Consents of all subjects in
 * the request are fetched in one lookup; audit events of the request are committed in one batch.
 */
export function createPrivacyGuard(deps: { consents: ConsentLookups; standing: StandingLookups; audit: AuditSink; now: () => Date }, request: GuardRequest) {
  const { principal } = request;
  const actor = actorOf(principal);
  const recorder = createRequestAuditRecorder(deps.audit, request.deadline);
  const adminAuditor = createActionAuditor(deps.audit, request, deps.now);
  /**
   * Outcome events of reads whose ALLOW was committed but whose value was then withheld (the deadline passed while the
   * audit answer came back): FAILED, DEADLINE_EXCEEDED (docs/audit.md#outcomes). One append for all such reads of the
   * request, sent without the spent deadline (bounded by INTERNAL_TIMEOUT_MS); best effort: a failure is logged.
   */
  const withheld = new DataLoader<AuditEventInput, true>(
    async (events) => {
      await deps.audit.append([...events]);
      return events.map(() => true as const);
    },
    { cache: false, maxBatchSize: 1000 },
  );
  /** Fields released only in their masked view, by `subjectId/field`. */
  const maskedReleases = new Map<string, PiiMask>();
  const consentOf = new DataLoader<string, ActiveConsent | null>(async (subjectIds) => {
    const tenant = principal as TenantPrincipal;
    const grants = await deps.consents.activeConsents(tenant.tenantId, request.purpose as string, [...subjectIds], { deadline: request.deadline });
    const bySubject = new Map(grants.map((g) => [g.subjectId, g]));
    return subjectIds.map((id) => bySubject.get(id) ?? null);
  });

  /** Identity's standing of each subject with the calling tenant, for all subjects of the request in one call. */
  const standingOf = new DataLoader<string, Standing | null>(async (subjectIds) => {
    const found = await deps.standing.standings((principal as TenantPrincipal).tenantId, [...subjectIds], { deadline: request.deadline });
    return subjectIds.map((id) => found.get(id) ?? null);
  });

  const event = (
    subjectId: string | null,
    field: string | null,
    decision: AccessDecision,
    action: AuditEventInput['action'],
    purpose: string | null = request.purpose,
  ): AuditEventInput => ({
    occurredAt: deps.now().toISOString(),
    ...actor,
    subjectId,
    action,
    field,
    purpose,
    decision: decision.allow ? 'ALLOW' : 'DENY',
    reason: decision.allow ? decision.reason : decision.code,
    consentId: decision.consentId,
    requestId: request.requestId,
    ...(request.origin ? { origin: request.origin.origin, userAgentClass: request.origin.userAgentClass } : {}),
  });

  async function decide(subjectId: string, field: PiiField, breakGlass: BreakGlassGrant | null): Promise<AccessDecision> {
    const access = {
      principal,
      subjectId,
      field: `${field.typeName}.${field.fieldName}`,
      category: field.category,
      mask: field.mask,
      purpose: request.purpose,
      purposeMalformed: request.purposeMalformed,
      breakGlass,
    };
    if (!needsConsent(access)) return decideAccess(access);
    // The tenant's standing with the subject and the consent are looked up side by side, each batched per request.
    const [standing, consent] = await Promise.allSettled([standingOf.load(subjectId), consentOf.load(subjectId)]);
    if ([standing, consent].some((settled) => settled.status === 'rejected' && isDeadlineError(settled.reason))) {
      return { allow: false, code: 'DEADLINE_EXCEEDED', message: DEADLINE_EXCEEDED_MESSAGE, consentId: null };
    }
    if (standing.status === 'rejected') {
      logger.warn({ err: { name: (standing.reason as Error)?.name }, requestId: request.requestId }, 'standing lookup failed; denying');
      return { allow: false, code: 'DEPENDENCY_UNAVAILABLE', message: 'Whether the user is blocked could not be checked; no PII was released', consentId: null };
    }
    if (consent.status === 'rejected') {
      const error = consent.reason as Error;
      logger.warn({ err: { name: error?.name, message: error?.message }, requestId: request.requestId }, 'consent lookup failed; denying');
      return { allow: false, code: 'CONSENT_UNAVAILABLE', message: 'Consent could not be checked; no PII was released', consentId: null };
    }
    return decideAccess({ ...access, standing: standing.value, consent: consent.value });
  }

  return {
    /**
     * true when the value may be released; otherwise the error to return in its place. `breakGlass` is the
     * grant the field's parent carries (breakGlassUser); its reason and ticket are the event's purpose.
     */
    async authorizeRead(
      subjectId: string,
      field: PiiField,
      breakGlass: BreakGlassGrant | null = null,
      /** Loads what the value is read from; an allowed read runs it before its audit, so an ALLOW means the value was in hand. */
      prefetch?: () => Promise<unknown>,
    ): Promise<true | GraphQLError> {
      const decision = await decide(subjectId, field, breakGlass);
      if (decision.allow && prefetch) {
        try {
          await prefetch();
        } catch (error) {
          if (isDeadlineError(error) || request.deadline?.expired()) return deadlineExceeded();
          if (error instanceof GraphQLError) return error;
          // Returned, not thrown: a rule that throws is a plain denial. The error formatter maps it (a statement or
          // lock timeout to DEADLINE_EXCEEDED, a lost database to DEPENDENCY_UNAVAILABLE) and masks the rest.
          return new GraphQLError('the record could not be loaded', { originalError: error instanceof Error ? error : undefined });
        }
      }
      const purpose = breakGlass ? breakGlass.auditPurpose : request.purpose;
      const recorded = event(subjectId, `${field.typeName}.${field.fieldName}`, decision, 'PII_READ', purpose);
      try {
        await recorder.load(recorded);
      } catch (error) {
        logger.warn({ err: { name: (error as Error)?.name, message: (error as Error)?.message }, requestId: request.requestId }, 'audit append failed; withholding PII');
        if (isDeadlineError(error) || request.deadline?.expired()) return deadlineExceeded();
        return privgraphError('AUDIT_UNAVAILABLE', 'The audit log is unavailable; no PII was released');
      }
      // Past the deadline nothing is released, even with its audit committed: the caller has given up (docs/security.md#deadlines).
      // A committed ALLOW then gets its outcome event, so the log does not say the value went out.
      if (request.deadline?.expired()) {
        if (decision.allow) {
          await withheld
            .load({ ...recorded, occurredAt: deps.now().toISOString(), reason: 'DEADLINE_EXCEEDED', outcome: 'FAILED' })
            .catch((error: unknown) =>
              logger.warn({ err: { name: (error as Error)?.name }, requestId: request.requestId }, 'outcome of a withheld read could not be audited'),
            );
        }
        return deadlineExceeded();
      }
      if (!decision.allow) return privgraphError(decision.code, decision.message);
      if (decision.masked && field.mask) maskedReleases.set(`${subjectId}/${field.fieldName}`, field.mask);
      return true;
    },

    /** The mask to apply when the allowed read of this field releases only its masked view. */
    maskOf: (subjectId: string, fieldName: string): PiiMask | undefined => maskedReleases.get(`${subjectId}/${fieldName}`),

    /**
     * Audits a platform-admin operation before it runs (the stated reason goes in `purpose`);
     * throws AUDIT_UNAVAILABLE, so the operation does not run, if it cannot be recorded.
     */
    recordAdminAction: (action: AuditEventInput['action'], target: { subjectId?: string | null; field?: string | null; reason: string }) =>
      adminAuditor(action, { subjectId: target.subjectId, field: target.field, purpose: target.reason }),

    /** Audits an admin operation before it runs and, if it then fails, that it failed (shared/audit/actions.ts auditedEffect). */
    auditedAdminAction: <T>(action: AuditEventInput['action'], target: { subjectId?: string | null; field?: string | null; reason: string }, effect: () => Promise<T>) =>
      auditedEffect(adminAuditor, action, { subjectId: target.subjectId, field: target.field, purpose: target.reason }, effect),

    /**
     * A subject's write to their own fields, audited end to end (shared/audit/actions.ts auditedEffect): one PII_WRITE per
     * field is committed before `write` runs (none committed: AUDIT_UNAVAILABLE, or DEADLINE_EXCEEDED past the deadline,
     * and nothing is written); if `write` then fails, one FAILED outcome event per field with the caller's error code.
     */
    async auditedOwnWrites<T>(subjectId: string, fields: string[], write: () => Promise<T>): Promise<T> {
      const allowed: AccessDecision = { allow: true, reason: 'SELF', consentId: null, masked: false };
      const eventsOf = (failedWith?: string) =>
        fields.map((f) => ({ ...event(subjectId, `User.${f}`, allowed, 'PII_WRITE'), ...(failedWith ? { reason: failedWith, outcome: 'FAILED' as const } : {}) }));
      const record: ActionAuditor = async (_action, target) => {
        // The outcome goes in one append without the request's deadline: the write may have failed because it ran out.
        if (target.failedWith) return deps.audit.append(eventsOf(target.failedWith));
        try {
          await Promise.all(eventsOf().map((e) => recorder.load(e)));
        } catch (error) {
          if (isDeadlineError(error) || request.deadline?.expired()) throw deadlineExceeded();
          throw privgraphError('AUDIT_UNAVAILABLE', 'The audit log is unavailable; nothing was written');
        }
      };
      return auditedEffect(record, 'PII_WRITE', { subjectId }, write);
    },
  };
}
