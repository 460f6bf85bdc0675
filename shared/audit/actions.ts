import { actorOf, type Principal } from '../auth/principal';
import { isErrorCode, privgraphError } from '../errors';
import { componentLogger } from '../logger';
import type { RequestOrigin } from '../origin';
import type { AuditAction, AuditEventInput, AuditSink } from './events';

export interface AuditedAction {
  subjectId?: string | null;
  /** Defaults to the calling tenant (if any). */
  tenantId?: string | null;
  field?: string | null;
  purpose?: string | null;
  consentId?: string | null;
  /** Makes this the outcome event of an action that failed after it was recorded: the error code the caller got (docs/audit.md#outcomes). */
  failedWith?: string;
}

/** Records one action of the request; throws AUDIT_UNAVAILABLE when it cannot, so the action does not run. */
export type ActionAuditor = (action: AuditAction, target: AuditedAction) => Promise<void>;

const logger = componentLogger('audit.actions');

/** Why the actor may act: on their own behalf, as a tenant, as a platform admin. */
const REASON_OF: Record<Principal['kind'], string> = { subject: 'SELF', tenant: 'TENANT', platform_admin: 'ADMIN', anonymous: 'ANONYMOUS' };

/**
 * Consent and admin actions are audited before they take effect, with an action name from the closed
 * list in shared/audit/events.ts. The event carries ids and codes only, never personal data.
 */
export function createActionAuditor(sink: AuditSink, request: { principal: Principal; requestId: string; origin?: RequestOrigin }, now: () => Date): ActionAuditor {
  const { actorType, actorId, tenantId } = actorOf(request.principal);
  return auditorFor(sink, now, () => ({ actorType, actorId, defaultTenantId: tenantId, reason: REASON_OF[request.principal.kind], requestId: request.requestId, origin: request.origin }));
}

/** For work no request asked for (a periodic job): actor SYSTEM, identified by the job's name. */
export function createSystemAuditor(sink: AuditSink, job: string, now: () => Date): ActionAuditor {
  return auditorFor(sink, now, () => ({ actorType: 'SYSTEM', actorId: job, defaultTenantId: null, reason: 'SYSTEM', requestId: `${job}-${now().getTime()}` }));
}

interface Acting {
  actorType: AuditEventInput['actorType'];
  actorId: string | null;
  /** The tenant an event is about when the action names none (the calling tenant). */
  defaultTenantId: string | null;
  reason: string;
  requestId: string;
  /** Where the request came from; none for a job. */
  origin?: RequestOrigin;
}

function auditorFor(sink: AuditSink, now: () => Date, acting: () => Acting): ActionAuditor {
  return async (action, target) => {
    const { actorType, actorId, defaultTenantId, reason, requestId, origin } = acting();
    const event: AuditEventInput = {
      occurredAt: now().toISOString(),
      actorType,
      actorId,
      tenantId: target.tenantId === undefined ? defaultTenantId : target.tenantId,
      subjectId: target.subjectId ?? null,
      action,
      field: target.field ?? null,
      purpose: target.purpose ?? null,
      decision: 'ALLOW',
      reason: target.failedWith ?? reason,
      consentId: target.consentId ?? null,
      requestId,
      ...(target.failedWith ? { outcome: 'FAILED' as const } : {}),
      ...(origin ? { origin: origin.origin, userAgentClass: origin.userAgentClass } : {}),
    };
    try {
      await sink.append([event]);
    } catch (error) {
      logger.warn({ action, requestId, err: { name: (error as Error)?.name } }, 'audit append failed; action refused');
      throw privgraphError('AUDIT_UNAVAILABLE', 'The audit log is unavailable; the operation was not performed');
    }
  };
}

/** The code a caller receives for an error (what a FAILED outcome event records as its reason). */
export function codeOf(error: unknown): string {
  const code = (error as { extensions?: { code?: unknown } })?.extensions?.code;
  // What the error formatter lets through: a code of the closed union; anything else reaches the caller masked.
  return isErrorCode(code) ? code : 'INTERNAL_SERVER_ERROR';
}

/**
 * An audited action end to end (docs/audit.md#outcomes): the event is committed before the effect runs
 * (write-ahead: no effect without its record); if the effect then fails, a second event with the same
 * action and target, outcome FAILED and the caller's error code, says it did not take effect. When even
 * that cannot be recorded the failure is logged and the caller still gets the effect's error.
 */
export async function auditedEffect<T>(audit: ActionAuditor, action: AuditAction, target: AuditedAction, effect: () => Promise<T>): Promise<T> {
  await audit(action, target);
  try {
    return await effect();
  } catch (error) {
    const code = codeOf(error);
    await audit(action, { ...target, failedWith: code }).catch(() => logger.warn({ action, code }, 'outcome of a failed action could not be audited'));
    throw error;
  }
}
