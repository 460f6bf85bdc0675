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
  const { actorType, actorId, tenantId } = actorOf(request.principal);
  return auditorFor(sink, now, () => ({ actorType, actorId, defaultTenantId: tenantId, reason: REASON_OF[request.principal.kind], requestId: request.requestId }));
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
}

function auditorFor(sink: AuditSink, now: () => Date, acting: () => Acting): ActionAuditor {
  return async (action, target) => {
    const { actorType, actorId, defaultTenantId, reason, requestId } = acting();
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
      reason,
      consentId: target.consentId ?? null,
      requestId,
    };
    try {
      await sink.append([event]);
    } catch (error) {
      logger.warn({ action, requestId, err: { name: (error as Error)?.name } }, 'audit append failed; action refused');
      throw privgraphError('AUDIT_UNAVAILABLE', 'The audit log is unavailable; the operation was not performed');
    }
  };
}
