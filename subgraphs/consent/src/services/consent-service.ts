import { randomUUID } from 'node:crypto';
import { auditedEffect, type ActionAuditor } from '../../../../shared/audit/actions';
import type { Principal } from '../../../../shared/auth/principal';
import type { ExtendedDirectory } from '../../../../shared/directory-client';
import { isUuid } from '../../../../shared/db/data-source';
import { badInput, notFound, privgraphError } from '../../../../shared/errors';
import type { SigningKey } from '../../../../shared/signing-key';
import type { Deadline } from '../../../../shared/deadline';
import { consentNotFound } from '../errors';
import { isPiiCategory, PURPOSE_PATTERN, type PiiCategory } from '../../../../shared/pii';
import type { ConsentReceiptKind, ConsentReceiptRow, ConsentRow, PolicyVersionRow } from '../db/entities';
import type { ActiveGrant, ConsentRepository, OutboxEventType, OutboxWrite } from '../db/repositories/consent-repository';
import type { SqlExecutor } from '../../../../shared/jobs';
import type { PolicyRepository } from '../db/repositories/policy-repository';
import type { PolicyService } from './policy-service';
import { POLICY_VERSION_PATTERN } from './policy-service';
import { consentReceipt, signReceipt } from './receipts';

export type ConsentStatus = 'ACTIVE' | 'WITHDRAWN' | 'EXPIRED' | 'SUPERSEDED';

export interface GrantConsentInput {
  tenantId: string;
  purpose: string;
  categories?: string[] | null;
  policyVersion: string;
  expiresAt?: Date | null;
  collectionMethod?: string | null;
}

const COLLECTION_METHOD_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,63}$/;

export interface ReceiptSettings {
  key: SigningKey;
  jurisdiction: string;
  language: string;
}

const sameCategories = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((c) => b.includes(c));

export function consentStatus(consent: ConsentRow, at: Date): ConsentStatus {
  if (consent.withdrawnAt) return 'WITHDRAWN';
  if (consent.supersededAt) return 'SUPERSEDED';
  if (consent.expiresAt && consent.expiresAt.getTime() <= at.getTime()) return 'EXPIRED';
  return 'ACTIVE';
}

/** How a user reaches the consent subgraph: by internal id only. */
export interface UserKey {
  id: string;
}

export type ConsentService = ReturnType<typeof createConsentService>;

export interface ConsentHistoryEntry {
  consentId: string;
  subjectId: string;
  tenantId: string;
  type: 'GRANTED' | 'WITHDRAWN' | 'SUPERSEDED' | 'EXPIRED';
  occurredAt: Date;
  purpose: string;
  categories: PiiCategory[];
  policyVersion: string;
}

// Webhook outbox
/** Enqueues the relay of an outbox row to identity, inside the transaction that wrote it. */
export interface OutboxRelayQueue {
  enqueue(tx: SqlExecutor, outboxId: string): Promise<unknown>;
}

/** The collection method a withdrawal receipt names when an erasure (GDPR Art. 17) withdrew the consent. */
export const ERASURE_COLLECTION_METHOD = 'erasure';

export function createConsentService(deps: {
  repo: ConsentRepository;
  policyRepo: PolicyRepository;
  policies: PolicyService;
  directory: ExtendedDirectory;
  receipts: ReceiptSettings;
  now: () => Date;
  /** Relays consent.granted / consent.withdrawn webhooks; without it rows wait for the relay's sweep. */
  outbox?: OutboxRelayQueue;
}) {
  const { repo, policyRepo, policies, directory, receipts, now } = deps;

  /**
   * The webhook a change writes to the outbox in its own transaction: the tenant's pairwise ref and ids,
   * never personal data (docs/webhooks.md).
   */
  function outboxWrite(type: OutboxEventType, ref: string | undefined, at: Date): OutboxWrite {
    return {
      event: (consent, superseded) => ({
        id: randomUUID(),
        tenantId: consent.tenantId,
        type,
        data: {
          tenantId: consent.tenantId,
          ref: ref ?? null,
          consentId: consent.id,
          purpose: consent.purpose,
          categories: consent.categories,
          policyVersion: consent.policyVersion,
          ...(type === 'consent.granted' && superseded.length > 0 ? { supersedes: superseded.map((c) => c.id) } : {}),
        },
        createdAt: at,
      }),
      enqueue: (tx, outboxId) => deps.outbox?.enqueue(tx, outboxId) ?? Promise.resolve(),
    };
  }

  /** What a receipt names the parties by: the subject's pairwise ref for the tenant and the tenant's name (absent: unknown). */
  async function partiesOf(tenantId: string, subjectId: string): Promise<{ ref: string | undefined; controllerName: string | undefined }> {
    const [refs, names] = await Promise.all([directory.refsForSubjects(tenantId, [subjectId]), directory.tenantNames([tenantId])]);
    return { ref: refs.get(subjectId), controllerName: names.get(tenantId) };
  }

  /** Signs the receipt of a grant or withdrawal; the pairwise ref is the subject's id in it (never the internal id). */
  async function issueReceipt(
    consent: ConsentRow,
    kind: ConsentReceiptKind,
    issuedAt: Date,
    policy: PolicyVersionRow | null,
    parties: { ref: string; controllerName: string },
  ): Promise<ConsentReceiptRow> {
    const id = randomUUID();
    const receipt = consentReceipt({
      receiptId: id,
      kind,
      issuedAt,
      consent,
      policy,
      piiPrincipalId: parties.ref,
      controllerName: parties.controllerName,
      jurisdiction: receipts.jurisdiction,
      language: receipts.language,
    });
    const jws = await signReceipt(receipt, receipts.key);
    return { id, consentId: consent.id, subjectId: consent.subjectId, tenantId: consent.tenantId, kind, issuedAt, jws };
  }

  const alreadyGranted = () => privgraphError('ALREADY_EXISTS', 'an identical consent is already active; withdraw it or change it to grant again');

  return {
    now,

    /**
     * Validates against the tenant's policy in force, signs the receipt, audits (CONSENT_GRANT), then
     * stores consent, history and receipt in one transaction. A refused grant leaves nothing behind.
     */
    async grant(subjectId: string, input: GrantConsentInput, audit: ActionAuditor, deadline?: Deadline): Promise<ConsentRow> {
      const purpose = input.purpose.trim();
      if (!PURPOSE_PATTERN.test(purpose)) {
        throw badInput('input.purpose', 'purpose must be a lower-case key of letters, digits and _ . - (max 64), e.g. order_fulfillment');
      }
      const requested = input.categories == null ? null : [...new Set(input.categories)];
      if (requested && (requested.length === 0 || !requested.every(isPiiCategory))) {
        throw badInput('input.categories', 'categories must name at least one PII category (or be left out for all the purpose declares)');
      }
      if (!POLICY_VERSION_PATTERN.test(input.policyVersion)) {
        throw badInput('input.policyVersion', 'policyVersion must be 1-64 letters, digits or . _ -');
      }
      const collectionMethod = input.collectionMethod?.trim() || 'api';
      if (!COLLECTION_METHOD_PATTERN.test(collectionMethod)) {
        throw badInput('input.collectionMethod', 'collectionMethod must be 1-64 letters, digits, spaces or . _ : / -');
      }
      const grantedAt = now();
      if (input.expiresAt && input.expiresAt.getTime() <= grantedAt.getTime()) {
        throw badInput('input.expiresAt', 'expiresAt must be in the future');
      }
      if (!isUuid(input.tenantId)) throw badInput('input.tenantId', 'tenantId is not a valid id');
      // Independent lookups at once; their failures are reported in this order.
      const [parties, grantable, existing] = await Promise.all([
        partiesOf(input.tenantId, subjectId),
        policies.grantablePurpose(input.tenantId, purpose, input.policyVersion).then(
          (value) => ({ value, error: null }),
          (error: unknown) => ({ value: null, error }),
        ),
        repo.findConsentsBySubjects([subjectId], input.tenantId),
      ]);
      if (!parties.controllerName) throw notFound('Tenant');
      if (!grantable.value) throw grantable.error;
      const { policy, purpose: declared } = grantable.value;
      const categories = (requested ?? declared.categories) as PiiCategory[];
      const undeclared = categories.filter((c) => !declared.categories.includes(c));
      if (undeclared.length > 0) {
        throw badInput('input.categories', `purpose ${purpose} of policy version ${policy.version} does not declare ${undeclared.join(', ')}`);
      }
      const consent: ConsentRow = {
        id: randomUUID(),
        subjectId,
        tenantId: input.tenantId,
        purpose,
        categories,
        policyVersion: policy.version,
        grantedAt,
        expiresAt: input.expiresAt ?? null,
        withdrawnAt: null,
        supersededAt: null,
        collectionMethod,
      };
      const isDuplicate = (open: ConsentRow) =>
        open.policyVersion === consent.policyVersion &&
        sameCategories(open.categories, consent.categories) &&
        (open.expiresAt?.getTime() ?? null) === (consent.expiresAt?.getTime() ?? null) &&
        consentStatus(open, grantedAt) === 'ACTIVE';
      if (existing.filter((c) => c.purpose === purpose).some(isDuplicate)) throw alreadyGranted();
      if (!parties.ref) throw badInput('input.tenantId', 'connect to this tenant first (connectTenant): a consent receipt names you by your ref for the tenant');
      const receipt = await issueReceipt(consent, 'GRANT', grantedAt, policy, { ref: parties.ref, controllerName: parties.controllerName });
      return auditedEffect(audit, 'CONSENT_GRANT', { subjectId, tenantId: consent.tenantId, purpose, consentId: consent.id }, async () => {
        // Checked again under the grant's lock: of two identical grants racing, one is refused (recorded as FAILED).
        if (!(await repo.insertGrantSuperseding(consent, receipt, isDuplicate, outboxWrite('consent.granted', parties.ref as string, grantedAt), deadline))) throw alreadyGranted();
        return consent;
      });
    },

    /**
     * Withdraws one of the subject's own consents (GDPR Art. 7(3)): audited (CONSENT_WITHDRAW) first,
     * a signed withdrawal receipt stored with it. Withdrawing again changes nothing.
     */
    async withdraw(subjectId: string, consentId: string, audit: ActionAuditor, deadline?: Deadline): Promise<ConsentRow> {
      if (!isUuid(consentId)) throw badInput('id', 'id is not a valid consent id');
      const [own] = (await repo.findConsentsBySubjects([subjectId])).filter((c) => c.id === consentId);
      if (!own) throw consentNotFound();
      if (own.withdrawnAt) return own;
      const withdrawnAt = now();
      const [parties, policy] = await Promise.all([partiesOf(own.tenantId, subjectId), policyRepo.findPolicyVersion(own.tenantId, own.policyVersion)]);
      // Withdrawal is never refused (Art. 7(3)); only a consent from before receipts can lack a ref, and it gets none.
      const receipt = parties.ref
        ? await issueReceipt(own, 'WITHDRAWAL', withdrawnAt, policy, { ref: parties.ref, controllerName: parties.controllerName ?? own.tenantId })
        : null;
      return auditedEffect(audit, 'CONSENT_WITHDRAW', { subjectId, tenantId: own.tenantId, purpose: own.purpose, consentId }, async () => {
        const withdrawn = await repo.markConsentWithdrawn(consentId, subjectId, withdrawnAt, receipt, outboxWrite('consent.withdrawn', parties.ref, withdrawnAt), deadline);
        if (!withdrawn) throw consentNotFound();
        return withdrawn.consent;
      });
    },

    // Erasure (GDPR Art. 17), for identity's erasure saga
    /**
     * Withdraws every active consent of the subject, each as `withdraw` does: a signed WITHDRAWAL receipt
     * (collection method "erasure"), audited CONSENT_WITHDRAW (by SYSTEM) before it takes effect, and a
     * consent.withdrawn webhook through the outbox. Idempotent: a repeat finds nothing active and answers 0.
     */
    async eraseSubject(subjectId: string, audit: ActionAuditor): Promise<{ withdrawn: number }> {
      if (!isUuid(subjectId)) return { withdrawn: 0 };
      const at = now();
      const active = (await repo.findConsentsBySubjects([subjectId])).filter((c) => consentStatus(c, at) === 'ACTIVE');
      let withdrawn = 0;
      for (const own of active) {
        const withdrawnAt = now();
        const [parties, policy] = await Promise.all([partiesOf(own.tenantId, subjectId), policyRepo.findPolicyVersion(own.tenantId, own.policyVersion)]);
        const receipt = parties.ref
          ? await issueReceipt({ ...own, collectionMethod: ERASURE_COLLECTION_METHOD }, 'WITHDRAWAL', withdrawnAt, policy, {
              ref: parties.ref,
              controllerName: parties.controllerName ?? own.tenantId,
            })
          : null;
        const result = await auditedEffect(audit, 'CONSENT_WITHDRAW', { subjectId, tenantId: own.tenantId, purpose: own.purpose, consentId: own.id }, () =>
          repo.markConsentWithdrawn(own.id, subjectId, withdrawnAt, receipt, outboxWrite('consent.withdrawn', parties.ref, withdrawnAt)),
        );
        if (result?.changed) withdrawn += 1;
      }
      return { withdrawn };
    },

    /**
     * After a restore: the active consents of subjects in the erasure ledger are withdrawn again (one
     * query finds them; each then goes as in eraseSubject). Returns how many were withdrawn.
     */
    async replayErasures(subjectIds: string[], audit: ActionAuditor): Promise<number> {
      const at = now();
      let withdrawn = 0;
      for (let offset = 0; offset < subjectIds.length; offset += 1000) {
        const active = (await repo.findConsentsBySubjects(subjectIds.slice(offset, offset + 1000).filter(isUuid))).filter((c) => consentStatus(c, at) === 'ACTIVE');
        for (const subjectId of new Set(active.map((c) => c.subjectId))) withdrawn += (await this.eraseSubject(subjectId, audit)).withdrawn;
      }
      return withdrawn;
    },

    /** Each consent's receipts (the caller may already see the consents), oldest first. */
    receiptsOf(consentIds: readonly string[]): Promise<ConsentReceiptRow[][]> {
      return repo.findReceiptsByConsents(consentIds).then((rows) => consentIds.map((id) => rows.filter((r) => r.consentId === id)));
    },

    /** One receipt, if it is the subject's own or about a consent given to the calling tenant; else NOT_FOUND. */
    async receiptVisibleTo(principal: Principal, receiptId: string): Promise<ConsentReceiptRow> {
      const owner =
        principal.kind === 'subject' ? { subjectId: principal.subjectId } : principal.kind === 'tenant' ? { tenantId: principal.tenantId } : null;
      const receipt = owner && isUuid(receiptId) ? await repo.findReceipt(receiptId, owner) : null;
      if (!receipt) throw notFound('Consent receipt');
      return receipt;
    },

    /** Each subject's consents as this principal may see them (own: all; tenant: those given to it). */
    async consentsVisibleTo(principal: Principal, subjectIds: readonly string[]): Promise<ConsentRow[][]> {
      let visible: ConsentRow[] = [];
      if (principal.kind === 'subject') {
        visible = subjectIds.includes(principal.subjectId) ? await repo.findConsentsBySubjects([principal.subjectId]) : [];
      } else if (principal.kind === 'tenant') {
        const ids = subjectIds.filter(isUuid);
        visible = ids.length > 0 ? await repo.findConsentsBySubjects(ids, principal.tenantId) : [];
      }
      return subjectIds.map((id) => visible.filter((c) => c.subjectId === id));
    },

    /**
     * Each subject's consent history as this principal may see it (own: all; tenant: about itself),
     * oldest first. Expiry is not written by a job: it is added here at its exact time once it has passed
     * (unless the consent was withdrawn or superseded before it lapsed).
     */
    async historyVisibleTo(principal: Principal, subjectIds: readonly string[]): Promise<ConsentHistoryEntry[][]> {
      let scope: { ids: string[]; tenantId?: string } | null = null;
      if (principal.kind === 'subject') scope = subjectIds.includes(principal.subjectId) ? { ids: [principal.subjectId] } : null;
      else if (principal.kind === 'tenant') scope = { ids: subjectIds.filter(isUuid), tenantId: principal.tenantId };
      if (!scope || scope.ids.length === 0) return subjectIds.map(() => []);
      const [recorded, consents] = await Promise.all([
        repo.findHistoryBySubjects(scope.ids, scope.tenantId),
        repo.findConsentsBySubjects(scope.ids, scope.tenantId),
      ]);
      const at = now();
      const expired: ConsentHistoryEntry[] = consents
        .filter((c) => c.expiresAt && c.expiresAt <= at && (!c.withdrawnAt || c.withdrawnAt > c.expiresAt) && (!c.supersededAt || c.supersededAt > c.expiresAt))
        .map((c) => ({ ...c, consentId: c.id, type: 'EXPIRED' as const, occurredAt: c.expiresAt as Date }));
      const entries: ConsentHistoryEntry[] = [...recorded.map((e) => ({ ...e, type: e.type as ConsentHistoryEntry['type'] })), ...expired];
      entries.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
      return subjectIds.map((id) => entries.filter((e) => e.subjectId === id));
    },

    activeGrants(tenantId: string, purpose: string, subjectIds: string[]): Promise<ActiveGrant[]> {
      return repo.findActiveGrants(tenantId, purpose, subjectIds.filter(isUuid), now());
    },

    /** The purposes a passport names: the keys of the subject's consents in force to the tenant. */
    activePurposes(tenantId: string, subjectId: string): Promise<string[]> {
      return repo.findActivePurposes(tenantId, subjectId, now());
    },
  };
}
