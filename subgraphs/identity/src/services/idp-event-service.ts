import { auditedEffect, type ActionAuditor } from '../../../../shared/audit/actions';
import type { Directory } from '../../../../shared/auth/principal';
import { idpEventKey, type IdpEvent, type IdpEventOutcome, type IdpEventResult } from '../../../../shared/idp-events-client';
import type { Logger } from '../../../../shared/logger';
import type { IdpEventRepository, SqlRunner } from '../db/repositories/idp-event-repository';

/** The rights service's entry point for an erasure (services/rights-service.ts); idempotent per subject. */
export interface ErasureOpener {
  openErasure(input: {
    subjectId: string;
    openedBy: 'SUBJECT' | 'PLATFORM_ADMIN' | 'IDP';
    reason?: string | null;
    audit: ActionAuditor;
  }): Promise<{ id: string }>;
}

/** The webhook outbox (services/webhook-service.ts): rows written in the caller's transaction. */
export interface SubjectEventEmitter {
  emit(tx: SqlRunner, events: { tenantId: string; type: 'subject.blocked'; data: { tenantId: string; ref: string } }[]): Promise<unknown>;
}

export interface IdpEventServiceDeps {
  repo: IdpEventRepository;
  directory: Pick<Directory, 'resolveSubject'>;
  rights: ErasureOpener;
  /** Absent until the webhook outbox is wired: suspensions then notify no tenant (logged). */
  webhooks?: SubjectEventEmitter | null;
  /** Audits as SYSTEM `logto-webhook` (createSystemAuditor). */
  audit: ActionAuditor;
  /** The issuer Logto's tokens carry (identity's config.common.auth.issuer): subjects are bound to (issuer, userId). */
  issuer: string;
  now: () => Date;
  logger: Logger;
}

export type IdpEventService = ReturnType<typeof createIdpEventService>;

/** An erased subject is a tombstone: no IdP event changes it any more. */
const isErased = (subject: { status: string } | null | undefined) => subject?.status === 'ERASED';

/**
 * Acts on identity-provider events: a new account is provisioned, a deleted one gets an erasure request,
 * a suspension blocks the subject (and a reinstatement lifts it). Each event is handled once: its dedupe
 * key is recorded only after the effect, every effect is idempotent, so a failure part-way leaves the
 * key unrecorded and Logto's retry finishes the work; a replay of a recorded key changes nothing.
 */
export function createIdpEventService(deps: IdpEventServiceDeps) {
  const { repo, issuer, now, audit, logger } = deps;

  const record = async (event: IdpEvent, eventKey: string, subjectId: string | null, outcome: IdpEventOutcome): Promise<IdpEventResult> => {
    const inserted = await repo.recordHandled({
      eventKey,
      provider: 'logto',
      type: event.type,
      subjectId,
      outcome,
      occurredAt: new Date(event.createdAt),
      handledAt: now(),
    });
    // Not inserted: a concurrent delivery of the same event recorded it first (both effects were idempotent).
    return { duplicate: !inserted, outcome };
  };

  async function userCreated(event: IdpEvent, eventKey: string): Promise<IdpEventResult> {
    const existing = await repo.findSubjectByBinding(issuer, event.userId);
    if (existing && isErased(existing)) return record(event, eventKey, existing.id, 'NO_CHANGE');
    const subject = await deps.directory.resolveSubject(issuer, event.userId);
    // The row alone grants nothing (any first sign-in creates it too); the event is acknowledged only once audited.
    await audit('SUBJECT_PROVISION', { subjectId: subject.subjectId, tenantId: null });
    return record(event, eventKey, subject.subjectId, existing ? 'NO_CHANGE' : 'PROVISIONED');
  }

  async function userDeleted(event: IdpEvent, eventKey: string): Promise<IdpEventResult> {
    const subject = await repo.findSubjectByBinding(issuer, event.userId);
    // Never seen here: nothing to erase, and no subject is created for it.
    if (!subject) return record(event, eventKey, null, 'UNKNOWN_USER');
    if (isErased(subject)) return record(event, eventKey, subject.id, 'NO_CHANGE');
    const request = await deps.rights.openErasure({ subjectId: subject.id, openedBy: 'IDP', reason: 'idp_user_deleted', audit });
    logger.info({ subjectId: subject.id, requestId: request.id }, 'erasure opened for a user deleted at the identity provider');
    return record(event, eventKey, subject.id, 'ERASURE_OPENED');
  }

  async function suspensionUpdated(event: IdpEvent, eventKey: string): Promise<IdpEventResult> {
    const suspended = event.suspended === true;
    const occurredAt = new Date(event.createdAt);
    let subject = await repo.findSubjectByBinding(issuer, event.userId);
    if (!subject) {
      if (!suspended) return record(event, eventKey, null, 'UNKNOWN_USER');
      // A suspended account never seen here is provisioned blocked, so a token it still holds is refused.
      const provisioned = await deps.directory.resolveSubject(issuer, event.userId);
      await audit('SUBJECT_PROVISION', { subjectId: provisioned.subjectId, tenantId: null });
      subject = { id: provisioned.subjectId, status: provisioned.status };
    }
    if (isErased(subject)) return record(event, eventKey, subject.id, 'NO_CHANGE');
    // Deliveries can arrive out of order: a change older than one already applied is recorded, not applied.
    if (await repo.laterSuspensionHandled(subject.id, occurredAt)) return record(event, eventKey, subject.id, 'STALE');

    const target = suspended ? 'BLOCKED' : 'ACTIVE';
    const subjectId = subject.id;
    return auditedEffect(audit, 'SUBJECT_SUSPEND', { subjectId, tenantId: null, field: `Subject.${target}` }, () => repo.inSuspensionTransaction(async (t): Promise<IdpEventResult> => {
      const locked = await t.lockSubject(subjectId);
      // The subject row lock serialises concurrent deliveries for this subject: re-check under it.
      if (await t.isHandled(eventKey)) return { duplicate: true, outcome: 'NO_CHANGE' };
      const row = { eventKey, provider: 'logto' as const, type: event.type, subjectId, occurredAt, handledAt: now() };
      if (!locked || isErased(locked)) {
        await t.recordHandled({ ...row, outcome: 'NO_CHANGE' });
        return { duplicate: false, outcome: 'NO_CHANGE' };
      }
      if (await t.laterSuspensionHandled(subjectId, occurredAt)) {
        await t.recordHandled({ ...row, outcome: 'STALE' });
        return { duplicate: false, outcome: 'STALE' };
      }
      const changed = await t.setSubjectStatus(subjectId, target);
      if (changed && target === 'BLOCKED') {
        const links = await t.linksOfSubject(subjectId);
        if (links.length > 0) {
          if (deps.webhooks) {
            await deps.webhooks.emit(
              t.tx,
              links.map(({ tenantId, ref }) => ({ tenantId, type: 'subject.blocked' as const, data: { tenantId, ref } })),
            );
          } else {
            logger.warn({ subjectId, tenants: links.length }, 'subject blocked; no webhook outbox wired, tenants not notified');
          }
        }
      }
      const outcome: IdpEventOutcome = changed ? (target === 'BLOCKED' ? 'BLOCKED' : 'REINSTATED') : 'NO_CHANGE';
      await t.recordHandled({ ...row, outcome });
      return { duplicate: false, outcome };
    }));
  }

  return {
    /** Handles one verified IdP event; `duplicate: true` when its key was handled before (nothing changes). */
    async handle(event: IdpEvent): Promise<IdpEventResult> {
      const eventKey = idpEventKey(event);
      if (await repo.isHandled(eventKey)) return { duplicate: true, outcome: 'NO_CHANGE' };
      const result =
        event.type === 'User.Created'
          ? await userCreated(event, eventKey)
          : event.type === 'User.Deleted'
            ? await userDeleted(event, eventKey)
            : await suspensionUpdated(event, eventKey);
      logger.info({ eventKey, event: event.type, outcome: result.outcome, duplicate: result.duplicate }, 'idp event handled');
      return result;
    },
  };
}
