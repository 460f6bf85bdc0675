import { randomUUID } from 'node:crypto';
import { auditedEffect, codeOf, type ActionAuditor } from '../../../../shared/audit/actions';
import type { SqlExecutor } from '../../../../shared/jobs';
import type { ErasureLedger } from '../../../../shared/erasure-ledger';
import { isUuid } from '../../../../shared/db/data-source';
import { UniqueViolation } from '../../../../shared/db/errors';
import { badInput, notFound } from '../../../../shared/errors';
import { checkAdminReason, PURPOSE_PATTERN } from '../../../../shared/pii';
import type { DsrKind, DsrOpenedBy, DsrRecipientRow, DsrRow, DsrStatus, DsrStepRow } from '../db/entities/rights';
import type { IdentityRepository } from '../db/repositories/identity-repository';
import { pairwiseId } from './pairwise-ref';
import type { DsrFilter, DsrQueuePosition, RightsRepository } from '../db/repositories/rights-repository';

/** The systems a request of each kind must reach, in the order the saga visits them. */
export const STEPS: Record<DsrKind, readonly string[]> = {
  // consent first, while the tenant links still give each withdrawal receipt and notice its ref; then identity,
  // after which no token is mapped onto the subject and no tenant can look them up; then the vault.
  ERASURE: ['consent', 'identity', 'pii', 'identity_provider', 'shops', 'audit'],
  EXPORT: ['identity', 'pii', 'consent', 'audit'],
};

/** Art. 12(3): one month from receipt, extendable by two further months. */
export const MAX_EXTENSION_MONTHS = 2;
const MAX_PAGE = 100;

/** Calendar months in UTC, clamped to the month's last day (31 January + 1 month = 28/29 February), as PostgreSQL does. */
export function addMonths(date: Date, months: number): Date {
  const target = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1, date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(date.getUTCDate(), lastDay));
  return target;
}

/** Who notices what: tenants are told of erasures (and later of their completion) with the ref they knew. */
export interface TenantNotifier {
  emit(
    tx: SqlExecutor,
    events: { tenantId: string; type: 'subject.erasure_requested' | 'subject.erased'; data: Record<string, unknown>; id?: string }[],
  ): Promise<{ eventId: string; tenantId: string; deliveries: number }[]>;
}

/**
 * What a shop is told about an erasure. Tenants must not be able to link their refs by comparing
 * notices (invariant 5), so each shop gets its own id for the request — a keyed hash of (request,
 * tenant) — and the deadline only as a date; the webhook ids are built from that id too.
 */
export function erasureNotice(
  key: string,
  request: { id: string; dueAt: Date },
  recipient: { tenantId: string; ref: string },
  type: 'subject.erasure_requested' | 'subject.erased',
) {
  const erasureId = pairwiseId(key, 'erasure-notice:v1', 'era_', recipient.tenantId, request.id);
  const requested = type === 'subject.erasure_requested';
  return {
    id: `${erasureId}_${requested ? 'requested' : 'erased'}`,
    tenantId: recipient.tenantId,
    type,
    data: { tenantId: recipient.tenantId, ref: recipient.ref, erasureId, ...(requested ? { dueDate: request.dueAt.toISOString().slice(0, 10) } : {}) },
  };
}

/** Starts (or resumes) the saga of a request, inside the transaction that opened it. */
export type SagaStarter = (tx: SqlExecutor, request: DsrRow) => Promise<void>;

export interface DsrView extends DsrRow {
  overdue: boolean;
  systems: DsrStepRow[];
}

export interface DsrPage {
  edges: { node: DsrView; cursor: string }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export type RightsService = ReturnType<typeof createRightsService>;

/**
 * Data subject requests (GDPR Art. 12, 15, 17, 20) as durable records with a deadline. Opening one is
 * audited first; the request, its steps, the tenants to tell and the first job are written in one
 * transaction, so a request is either there with its saga started, or not there at all.
 */
export function createRightsService(deps: {
  repo: RightsRepository;
  identityRepo: IdentityRepository;
  notifier: TenantNotifier;
  startSaga: SagaStarter;
  /** Keys the per-shop ids of erasure notices (see erasureNotice). */
  noticeKey: string;
  now: () => Date;
}) {
  const { repo, identityRepo, notifier, startSaga, now } = deps;

  const viewsOf = async (rows: DsrRow[]): Promise<DsrView[]> => {
    const steps = await repo.findSteps(rows.map((r) => r.id));
    const at = now();
    return rows.map((row) => ({
      ...row,
      overdue: row.completedAt === null && row.dueAt.getTime() < at.getTime(),
      systems: steps.filter((s) => s.requestId === row.id),
    }));
  };

  async function open(input: { subjectId: string; kind: DsrKind; openedBy: DsrOpenedBy; reason: string | null; audit: ActionAuditor }): Promise<DsrView> {
    const { subjectId, kind, openedBy, reason } = input;
    const [subject] = isUuid(subjectId) ? await identityRepo.findSubjectsByIds([subjectId]) : [];
    if (!subject || subject.status === 'ERASED') throw notFound('Subject');
    if (kind === 'ERASURE') {
      const existing = await repo.findOpenErasure(subjectId);
      if (existing) return (await viewsOf([existing]))[0];
    }
    const audited = { subjectId, tenantId: null, field: `DataSubjectRequest.${kind}`, purpose: reason };
    await input.audit('DSR_OPEN', audited);
    const receivedAt = now();
    const id = randomUUID();
    const row: DsrRow = {
      id,
      subjectId,
      kind,
      status: 'RECEIVED',
      openedBy,
      reason,
      receivedAt,
      dueAt: addMonths(receivedAt, 1),
      extendedMonths: 0,
      extensionReason: null,
      extensionNoticeDueAt: null,
      legalHold: false,
      // The IdP account is kept only until the identity-provider step has deleted it.
      idpIssuer: kind === 'ERASURE' ? subject.issuer : null,
      idpUserId: kind === 'ERASURE' ? subject.sub : null,
      completedAt: null,
      downloadedAt: null,
    };
    const steps: DsrStepRow[] = STEPS[kind].map((system, position) => ({
      requestId: id, system, position, status: 'PENDING', attempts: 0, lastError: null, detail: null, updatedAt: receivedAt, completedAt: null,
    }));
    const recipients: DsrRecipientRow[] =
      kind === 'ERASURE' ? (await identityRepo.findLinksOfSubject(subjectId)).map((l) => ({ requestId: id, tenantId: l.tenantId, ref: l.ref, erasedEventId: null })) : [];
    try {
      await repo.transaction(async (tx) => {
        await repo.insertRequest(tx, row, steps, recipients);
        // Art. 19: every shop that received the person's ref hears of the request at once, and again when it is done.
        await notifier.emit(
          tx,
          recipients.map((r) => erasureNotice(deps.noticeKey, row, r, 'subject.erasure_requested')),
        );
        await startSaga(tx, row);
      });
    } catch (error) {
      // A concurrent erasure request for the same subject won: answer with that one.
      if (error instanceof UniqueViolation && kind === 'ERASURE') {
        const winner = await repo.findOpenErasure(subjectId);
        if (winner) return (await viewsOf([winner]))[0];
      }
      // The request was recorded as opened but is not stored: say so (docs/audit.md#outcomes).
      await input.audit('DSR_OPEN', { ...audited, failedWith: codeOf(error) }).catch(() => undefined);
      throw error;
    }
    return { ...row, overdue: false, systems: steps };
  }

  /** The subject's own ground for erasure or note on an export: a short code, never free text. */
  const subjectReason = (reason: string | null | undefined): string | null => {
    if (reason === null || reason === undefined) return null;
    if (!PURPOSE_PATTERN.test(reason)) {
      throw badInput('reason', 'reason must be a short code: lower-case letters, digits and _ . - (e.g. consent_withdrawn, no_longer_needed)');
    }
    return reason;
  };

  return {
    /** The subject asks for their own erasure (Art. 17); a repeat while one is open returns that one. */
    requestErasure: (subjectId: string, reason: string | null | undefined, audit: ActionAuditor) =>
      open({ subjectId, kind: 'ERASURE', openedBy: 'SUBJECT', reason: subjectReason(reason), audit }),

    requestDataExport: (subjectId: string, audit: ActionAuditor) => open({ subjectId, kind: 'EXPORT', openedBy: 'SUBJECT', reason: null, audit }),

    /** A platform admin opens a request on the subject's behalf, with a stated reason code. */
    openOnBehalf: (input: { subjectId: string; kind: DsrKind; reason: string }, audit: ActionAuditor) => {
      if (!isUuid(input.subjectId)) throw badInput('input.subjectId', 'subjectId is not a valid id');
      return open({ subjectId: input.subjectId, kind: input.kind, openedBy: 'PLATFORM_ADMIN', reason: checkAdminReason(input.reason), audit });
    },

    /** The identity provider reported the account deleted (Logto `User.Deleted`). */
    openErasure: (input: { subjectId: string; openedBy: DsrOpenedBy; reason?: string | null; audit: ActionAuditor }) =>
      open({ subjectId: input.subjectId, kind: 'ERASURE', openedBy: input.openedBy, reason: input.reason ?? null, audit: input.audit }),

    async requestsOfSubject(subjectId: string): Promise<DsrView[]> {
      return viewsOf(await repo.findRequestsOfSubject(subjectId));
    },

    async request(id: string): Promise<DsrView> {
      const row = isUuid(id) ? await repo.findRequest(id) : null;
      if (!row) throw notFound('Data subject request');
      return (await viewsOf([row]))[0];
    },

    async page(filter: { kind?: DsrKind | null; status?: DsrStatus | null; overdue?: boolean | null; subjectId?: string | null } | null | undefined, first: number | null | undefined, after: string | null | undefined): Promise<DsrPage> {
      const limit = first ?? 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badInput('first', `first must be 1-${MAX_PAGE}`);
      if (filter?.subjectId && !isUuid(filter.subjectId)) throw badInput('filter.subjectId', 'subjectId is not a valid id');
      const position = after ? decodeCursor(after) : null;
      const rows = await repo.pageRequests((filter ?? {}) as DsrFilter, now(), position, limit + 1);
      const views = await viewsOf(rows.slice(0, limit));
      const edges = views.map((node) => ({ node, cursor: encodeCursor({ closed: node.completedAt !== null, dueAt: node.dueAt, id: node.id }) }));
      return { edges, pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
    },

    /**
     * Art. 12(3): a platform admin extends the deadline by one or two months (at most two in total),
     * within the first month, with a reason; the notice owed to the subject — the extension and its
     * reason, due within one month of receipt — is recorded on the request and shown to the subject.
     */
    async extend(id: string, months: number | null | undefined, reason: string, audit: ActionAuditor): Promise<DsrView> {
      checkAdminReason(reason);
      const add = months ?? 1;
      if (!Number.isInteger(add) || add < 1 || add > MAX_EXTENSION_MONTHS) throw badInput('months', `months must be 1 or ${MAX_EXTENSION_MONTHS}`);
      const row = isUuid(id) ? await repo.findRequest(id) : null;
      if (!row) throw notFound('Data subject request');
      if (row.completedAt) throw badInput('id', 'the request is already completed');
      if (row.extendedMonths + add > MAX_EXTENSION_MONTHS) {
        throw badInput('months', `a deadline can be extended by at most ${MAX_EXTENSION_MONTHS} further months in total (GDPR Art. 12(3)); ${MAX_EXTENSION_MONTHS - row.extendedMonths} left`);
      }
      const noticeDueAt = addMonths(row.receivedAt, 1);
      if (now().getTime() > noticeDueAt.getTime()) {
        throw badInput('id', 'an extension must be decided, and the subject told, within one month of receipt (GDPR Art. 12(3))');
      }
      const extended = await auditedEffect(audit, 'DSR_EXTEND', { subjectId: row.subjectId, tenantId: null, field: `DataSubjectRequest.${row.extendedMonths + add}`, purpose: reason }, async () => {
        const done = await repo.extendRequest(id, add, reason, noticeDueAt);
        if (!done) throw badInput('months', `a deadline can be extended by at most ${MAX_EXTENSION_MONTHS} further months in total (GDPR Art. 12(3))`);
        return done;
      });
      return (await viewsOf([extended]))[0];
    },
  };
}

function encodeCursor(position: DsrQueuePosition): string {
  return Buffer.from(JSON.stringify([position.closed ? 1 : 0, position.dueAt.toISOString(), position.id])).toString('base64url');
}

function decodeCursor(cursor: string): DsrQueuePosition {
  try {
    const [closed, dueAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [number, string, string];
    const due = new Date(dueAt);
    if ((closed === 0 || closed === 1) && !Number.isNaN(due.getTime()) && isUuid(id)) return { closed: closed === 1, dueAt: due, id };
  } catch {
    // fall through
  }
  throw badInput('after', 'after is not a cursor from this connection');
}

/**
 * Before identity serves: every subject in the erasure ledger that is alive here (a database restored
 * from a backup taken before the erasure) is tombstoned again, with its tenant links ended.
 */
export async function replayErasures(ledger: ErasureLedger, repo: RightsRepository, now: () => Date): Promise<number> {
  const ids = [...new Set((await ledger.entries()).map((e) => e.subjectId))];
  let restored = 0;
  for (let offset = 0; offset < ids.length; offset += 1000) {
    for (const subjectId of await repo.findLiveSubjects(ids.slice(offset, offset + 1000))) {
      await repo.transaction((tx) => repo.tombstoneSubject(subjectId, now(), tx));
      restored += 1;
    }
  }
  return restored;
}
