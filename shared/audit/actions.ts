import { actorOf, type Principal } from '../auth/principal';
import { privgraphError } from '../errors';
import { componentLogger } from '../logger';
import type { AuditAction, AuditEventInput, AuditSink } from './events';

export interface AuditedAction {
  subjectId?: string | null;
  /** Defaults to the calling tenant (if any). */
  tenantId?: string | null;
  field?: string | null;
  purpose?: string | null;
  consentId?: string | null;
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
export function createActionAuditor(sink: AuditSink, request: { principal: Principal; requestId: string }, now: () => Date): ActionAuditor {
  const actor = actorOf(request.principal);
  return async (action, target) => {
    const event: AuditEventInput = {
      occurredAt: now().toISOString(),
      ...actor,
      tenantId: target.tenantId === undefined ? actor.tenantId : target.tenantId,
      subjectId: target.subjectId ?? null,
      action,
      field: target.field ?? null,
      purpose: target.purpose ?? null,
      decision: 'ALLOW',
      reason: REASON_OF[request.principal.kind],
      consentId: target.consentId ?? null,
      requestId: request.requestId,
    };
    try {
      await sink.append([event]);
    } catch (error) {
      logger.warn({ action, requestId: request.requestId, err: { name: (error as Error)?.name } }, 'audit append failed; action refused');
      throw privgraphError('AUDIT_UNAVAILABLE', 'The audit log is unavailable; the operation was not performed');
    }
  };
}

/** For work no request asked for (a periodic job): actor SYSTEM, identified by the job's name. */
export function createSystemAuditor(sink: AuditSink, job: string, now: () => Date): ActionAuditor {
  return async (action, target) => {
    const event: AuditEventInput = {
      occurredAt: now().toISOString(),
      actorType: 'SYSTEM',
      actorId: job,
      tenantId: target.tenantId ?? null,
      subjectId: target.subjectId ?? null,
      action,
      field: target.field ?? null,
      purpose: target.purpose ?? null,
      decision: 'ALLOW',
      reason: 'SYSTEM',
      consentId: target.consentId ?? null,
      requestId: `${job}-${now().getTime()}`,
    };
    try {
      await sink.append([event]);
    } catch (error) {
      logger.warn({ action, job, err: { name: (error as Error)?.name } }, 'audit append failed; action refused');
      throw privgraphError('AUDIT_UNAVAILABLE', 'The audit log is unavailable; the operation was not performed');
    }
  };
}
