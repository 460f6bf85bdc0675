import type { ActionAuditor } from '../../../../shared/audit/actions';
import type { ErasurePorts } from '../../../../shared/erasure-client';
import { DependencyUnavailableError } from '../../../../shared/errors';
import type { JobQueue, SqlExecutor } from '../../../../shared/jobs';
import type { Logger } from '../../../../shared/logger';
import { FINAL_STEP_STATUSES, type DsrRow, type DsrStepRow } from '../db/entities/rights';
import type { RightsRepository } from '../db/repositories/rights-repository';
import { IdpAccountsRefusedError, IdpUnavailableError, type IdpAccounts } from './idp-accounts';
import { erasureNotice, STEPS, type SagaStarter, type TenantNotifier } from './rights-service';

export const DSR_STEP_QUEUE = 'dsr.step';

/**
 * The code a failed attempt leaves on its step, for the admin's view: never a message from another
 * system. Refused IdP credentials are retried too (an operator fixes the configuration, the sweep
 * carries on), but say so plainly.
 */
function errorCodeOf(error: unknown): string {
  if (error instanceof IdpAccountsRefusedError) return 'IDP_CREDENTIALS_REFUSED';
  if (error instanceof IdpUnavailableError) return 'IDP_UNAVAILABLE';
  if (error instanceof DependencyUnavailableError) return `${error.dependency.toUpperCase()}_UNAVAILABLE`;
  return 'STEP_FAILED';
}

type Sql = SqlExecutor;

/** What a step reports. WAITING: it did its part and is looked at again later (shops acknowledging). */
export type StepOutcome =
  | { status: 'DONE' | 'SKIPPED' | 'IMPOSSIBLE'; detail: string; legalHold?: boolean; forgetIdp?: boolean }
  | { status: 'WAITING'; detail: string; recheckAfterSeconds: number };

export interface DeliveryStates {
  deliveryStates(eventIds: string[]): Promise<Map<string, { tenantId: string; state: 'PENDING' | 'DELIVERED' | 'FAILED' | 'NO_ENDPOINT'; attempts: number; lastError: string | null }>>;
}

export interface SagaSettings {
  /** Attempts of a failing step before it waits for the periodic sweep (backoff doubles from 5 s). */
  retryLimit: number;
  /** A step running longer is taken for dead (its worker crashed) and retried. */
  stepTimeoutSeconds: number;
  /** How often open requests are looked at, so none stalls (jobs lost or out of retries). */
  sweepIntervalMs: number;
  /** How long the shops step waits before looking at deliveries again. */
  recheckSeconds: number;
}

export interface SagaHooks {
  /** Called before a step does its work (tests stop the service here to simulate a crash). */
  beforeStep?: (system: string, request: DsrRow) => Promise<void>;
}

/**
 * The saga that carries out data subject requests, one pg-boss job per step. Each step is idempotent
 * and reports an outcome; a failure is retried with backoff, a crash anywhere is resumed (the job
 * expires and runs again; the sweep re-sends what is missing). A step's completion and the job of the
 * next step are committed together, so the saga never loses its place. Every transition is audited
 * (DSR_TRANSITION, actor SYSTEM) before it is recorded.
 */
export function createRightsSaga(deps: {
  repo: RightsRepository;
  jobs: JobQueue;
  erasure: ErasurePorts;
  consent: { eraseSubject(subjectId: string): Promise<{ withdrawn: number }> };
  idp: IdpAccounts;
  /** The issuer whose accounts live at the configured identity provider. */
  idpIssuer: string | null;
  notifier: TenantNotifier & DeliveryStates;
  /** How many items one system holds for an export's subject (counts only, nothing decrypted). */
  exportItems: (subjectId: string, system: 'identity' | 'pii' | 'consent' | 'audit') => Promise<number>;
  /** Keys the per-shop ids of erasure notices (rights-service.ts erasureNotice). */
  noticeKey: string;
  /** Signs the grant the vault asks for before it destroys a subject's record (shared/dsr-grant.ts). */
  grant: (subjectId: string, requestId: string, action: 'erase') => Promise<string>;
  audit: ActionAuditor;
  settings: SagaSettings;
  logger: Logger;
  now: () => Date;
  hooks?: SagaHooks;
}) {
  const { repo, jobs, audit, settings, logger, now } = deps;
  const sendOptions = { retryLimit: settings.retryLimit, retryDelay: 5, retryBackoff: true, expireInSeconds: settings.stepTimeoutSeconds };
  const send = (requestId: string, system: string, extra: { tx?: Sql; startAfter?: number } = {}) =>
    jobs.send(DSR_STEP_QUEUE, { requestId, system }, { ...sendOptions, ...extra });

  const erasureSteps: Record<string, (request: DsrRow) => Promise<StepOutcome>> = {
    async identity(request) {
      const { linksEnded, newRecipients } = await repo.transaction(async (tx) => {
        // Shops the subject connected to after the request was opened are told too, in the same transaction.
        const added = await repo.captureRecipients(request.id, request.subjectId, tx);
        await deps.notifier.emit(
          tx,
          added.map((r) => erasureNotice(deps.noticeKey, request, r, 'subject.erasure_requested')),
        );
        return { ...(await repo.tombstoneSubject(request.subjectId, now(), tx)), newRecipients: added.length };
      });
      return { status: 'DONE', detail: `subject tombstoned; tenant links ended: ${linksEnded}${newRecipients > 0 ? `; shops connected since the request: ${newRecipients}` : ''}` };
    },
    async consent(request) {
      const { withdrawn } = await deps.consent.eraseSubject(request.subjectId);
      return { status: 'DONE', detail: `consents withdrawn with receipts: ${withdrawn}` };
    },
    async pii(request) {
      // A consent granted between the consent step and the tombstone (seconds) is withdrawn too.
      const late = await deps.consent.eraseSubject(request.subjectId);
      const result = await deps.erasure.erasePii(request.subjectId, request.id, await deps.grant(request.subjectId, request.id, 'erase'));
      return {
        status: 'DONE',
        detail: `data keys destroyed: ${result.keysDestroyed}; ciphertexts deleted: ${result.ciphertextsDeleted}${late.withdrawn > 0 ? `; late consents withdrawn: ${late.withdrawn}` : ''}`,
      };
    },
    // The account id is forgotten in the same transaction that records the outcome (finish), so a crash in
    // between can never turn into a false "already deleted".
    async identity_provider(request) {
      if (request.openedBy === 'IDP') return { status: 'DONE', detail: 'the identity provider deleted the account itself (it reported the deletion)', forgetIdp: true };
      if (!request.idpUserId) return { status: 'DONE', detail: 'account already deleted at the identity provider' };
      if (!deps.idpIssuer || request.idpIssuer !== deps.idpIssuer) {
        return { status: 'SKIPPED', detail: 'the account is not held by the configured identity provider (e.g. the development issuer)', forgetIdp: true };
      }
      if (!deps.idp.configured) {
        return { status: 'SKIPPED', detail: `no identity provider credentials (${deps.idp.whyNot ?? 'not configured'}): delete the account at the provider by hand`, forgetIdp: true };
      }
      const result = await deps.idp.deleteUser(request.idpUserId);
      return { status: 'DONE', detail: result === 'DELETED' ? 'account deleted at the identity provider' : 'the identity provider no longer had the account', forgetIdp: true };
    },
    async shops(request) {
      const recipients = await repo.findRecipients(request.id);
      if (recipients.length === 0) return { status: 'SKIPPED', detail: 'the subject was connected to no shop' };
      const unsent = recipients.filter((r) => !r.erasedEventId);
      if (unsent.length > 0) {
        // The notices and the record that they were sent commit together (transactional outbox).
        await repo.transaction(async (tx) => {
          const emitted = await deps.notifier.emit(
            tx,
            unsent.map((r) => erasureNotice(deps.noticeKey, request, r, 'subject.erased')),
          );
          for (const event of emitted) await repo.setRecipientEvent(request.id, event.tenantId, event.eventId, tx);
        });
      }
      const sent = await repo.findRecipients(request.id);
      const states = await deps.notifier.deliveryStates(sent.map((r) => r.erasedEventId).filter((id): id is string => id !== null));
      const count = { DELIVERED: 0, FAILED: 0, NO_ENDPOINT: 0, PENDING: 0 };
      for (const recipient of sent) count[states.get(recipient.erasedEventId ?? '')?.state ?? 'PENDING'] += 1;
      const summary = `shops: ${sent.length}; acknowledged: ${count.DELIVERED}; without a webhook endpoint: ${count.NO_ENDPOINT}; unreachable for 72 h: ${count.FAILED}; pending: ${count.PENDING}`;
      if (count.PENDING > 0) return { status: 'WAITING', detail: summary, recheckAfterSeconds: settings.recheckSeconds };
      return { status: count.FAILED + count.NO_ENDPOINT > 0 ? 'IMPOSSIBLE' : 'DONE', detail: summary };
    },
    async audit(request) {
      const check = await deps.erasure.checkAudit(request.subjectId);
      const kept = `${check.events} audit events kept under the opaque subject id only${check.legalHold ? '; a legal hold keeps them beyond retention' : ''}`;
      if (!check.chainVerifies) return { status: 'IMPOSSIBLE', detail: `the audit chain does not verify (${check.problem ?? 'unknown'}); ${kept}`, legalHold: check.legalHold };
      return { status: 'DONE', detail: `the audit chain verifies; ${kept}`, legalHold: check.legalHold };
    },
  };

  const exportStep = async (request: DsrRow, system: string): Promise<StepOutcome> => {
    const items = await deps.exportItems(request.subjectId, system as 'identity' | 'pii' | 'consent' | 'audit');
    return { status: 'DONE', detail: `ready for the export: ${items} items` };
  };

  const transition = (request: DsrRow, field: string) => audit('DSR_TRANSITION', { subjectId: request.subjectId, tenantId: null, field });
  const stepField = (request: DsrRow, system: string, status: string) => `${request.kind === 'ERASURE' ? 'Erasure' : 'Export'}.${system}.${status}`;

  /** After a step is final: the next step's job, or the request's completion, committed with it. */
  async function finish(request: DsrRow, steps: DsrStepRow[], step: DsrStepRow, outcome: Exclude<StepOutcome, { status: 'WAITING' }> | null) {
    const next = steps.find((s) => s.position > step.position && !FINAL_STEP_STATUSES.includes(s.status));
    if (!next && !request.completedAt) await transition(request, 'DataSubjectRequest.COMPLETED');
    await repo.transaction(async (tx) => {
      if (outcome) {
        await repo.updateStep(request.id, step.system, { status: outcome.status, detail: outcome.detail, lastError: null, completedAt: now(), updatedAt: now() }, tx);
        if (outcome.legalHold) await repo.markRequest(request.id, { status: 'IN_PROGRESS', legalHold: true }, tx);
        if (outcome.forgetIdp) await repo.forgetIdpAccount(request.id, tx);
      }
      if (next) await send(request.id, next.system, { tx });
      else if (!request.completedAt) await repo.markRequest(request.id, { status: 'COMPLETED', completedAt: now() }, tx);
    });
  }

  async function runStep(data: { requestId: string; system: string }): Promise<void> {
    const request = await repo.findRequest(data.requestId);
    if (!request) return;
    const steps = await repo.findSteps([request.id]);
    const step = steps.find((s) => s.system === data.system);
    if (!step) return;
    if (FINAL_STEP_STATUSES.includes(step.status)) {
      await finish(request, steps, step, null);
      return;
    }
    if (request.status === 'RECEIVED') {
      await transition(request, 'DataSubjectRequest.IN_PROGRESS');
      await repo.markRequest(request.id, { status: 'IN_PROGRESS' });
    }
    await repo.updateStep(request.id, step.system, { status: step.status === 'WAITING' ? 'WAITING' : 'RUNNING', attempted: step.status !== 'WAITING', updatedAt: now() });
    await deps.hooks?.beforeStep?.(step.system, request);
    let outcome: StepOutcome;
    try {
      outcome = request.kind === 'ERASURE' ? await erasureSteps[step.system](request) : await exportStep(request, step.system);
    } catch (error) {
      await repo.updateStep(request.id, step.system, { lastError: errorCodeOf(error), updatedAt: now() }).catch(() => undefined);
      throw error;
    }
    if (outcome.status === 'WAITING') {
      if (step.status !== 'WAITING') await transition(request, stepField(request, step.system, 'WAITING'));
      await repo.updateStep(request.id, step.system, { status: 'WAITING', detail: outcome.detail, lastError: null, updatedAt: now() });
      await send(request.id, step.system, { startAfter: outcome.recheckAfterSeconds });
      return;
    }
    await transition(request, stepField(request, step.system, outcome.status));
    await finish({ ...request, status: 'IN_PROGRESS' }, steps, step, outcome);
  }

  /**
   * Re-sends the job of each open request's current step, unless that step is visibly alive (running
   * or waiting, touched within the step timeout): its own job, or its expiry and retry, carries it on.
   */
  async function sweep(): Promise<void> {
    const liveSince = now().getTime() - settings.stepTimeoutSeconds * 1000;
    let after: { dueAt: Date; id: string } | null = null;
    for (;;) {
      const page = await repo.findOpenRequests(after, 500);
      if (page.length === 0) return;
      const steps = await repo.findSteps(page.map((r) => r.id));
      for (const request of page) {
        const own = steps.filter((s) => s.requestId === request.id);
        const current = own.find((s) => !FINAL_STEP_STATUSES.includes(s.status));
        if (current && (current.status === 'RUNNING' || current.status === 'WAITING') && current.updatedAt.getTime() > liveSince) continue;
        await send(request.id, current?.system ?? own.at(-1)?.system ?? 'identity');
      }
      const last = page[page.length - 1];
      after = { dueAt: last.dueAt, id: last.id };
    }
  }

  let timer: NodeJS.Timeout | undefined;
  const start: SagaStarter = async (tx, request) => {
    await send(request.id, STEPS[request.kind][0], { tx });
  };

  return {
    start,
    /** A shop acknowledged (or finally failed) a notice: look at the request's shops step now. */
    async deliverySettled(requestId: string) {
      await send(requestId, 'shops');
    },
    async startWorker() {
      await jobs.work<{ requestId: string; system: string }>(DSR_STEP_QUEUE, (data) => runStep(data));
      await sweep().catch((error) => logger.warn({ err: { name: (error as Error)?.name } }, 'data subject request sweep failed'));
      if (settings.sweepIntervalMs > 0) {
        timer = setInterval(() => {
          sweep().catch((error) => logger.warn({ err: { name: (error as Error)?.name } }, 'data subject request sweep failed'));
        }, settings.sweepIntervalMs).unref();
      }
    },
    stopWorker() {
      if (timer) clearInterval(timer);
    },
  };
}
