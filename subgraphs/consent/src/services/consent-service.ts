import { randomUUID } from 'node:crypto';
import type { ActionAuditor } from '../../../../shared/audit/actions';
import type { Principal } from '../../../../shared/auth/principal';
import type { ExtendedDirectory } from '../../../../shared/directory-client';
import { isUuid } from '../../../../shared/db/data-source';
import { badInput, notFound } from '../../../../shared/errors';
import { consentNotFound } from '../errors';
import { isPiiCategory, PURPOSE_PATTERN, type PiiCategory } from '../../../../shared/pii';
import type { ConsentRow } from '../db/entities';
import type { ActiveGrant, ConsentRepository } from '../db/repositories/consent-repository';

export type ConsentStatus = 'ACTIVE' | 'WITHDRAWN' | 'EXPIRED' | 'SUPERSEDED';

export interface GrantConsentInput {
  tenantId: string;
  purpose: string;
  categories: string[];
  policyVersion: string;
  expiresAt?: Date | null;
}

const POLICY_VERSION_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

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

export function createConsentService(deps: { repo: ConsentRepository; directory: ExtendedDirectory; now: () => Date }) {
  const { repo, directory, now } = deps;

  return {
    now,

    /** Validates, audits (CONSENT_GRANT), then stores; a grant that cannot be audited is not stored. */
    async grant(subjectId: string, input: GrantConsentInput, audit: ActionAuditor): Promise<ConsentRow> {
      const purpose = input.purpose.trim();
      if (!PURPOSE_PATTERN.test(purpose)) {
        throw badInput('input.purpose', 'purpose must be a lower-case key of letters, digits and _ . - (max 64), e.g. order_fulfillment');
      }
      const categories = [...new Set(input.categories)];
      if (categories.length === 0 || !categories.every(isPiiCategory)) {
        throw badInput('input.categories', 'categories must name at least one PII category');
      }
      if (!POLICY_VERSION_PATTERN.test(input.policyVersion)) {
        throw badInput('input.policyVersion', 'policyVersion must be 1-64 letters, digits or . _ -');
      }
      const grantedAt = now();
      if (input.expiresAt && input.expiresAt.getTime() <= grantedAt.getTime()) {
        throw badInput('input.expiresAt', 'expiresAt must be in the future');
      }
      if (!isUuid(input.tenantId)) throw badInput('input.tenantId', 'tenantId is not a valid id');
      if (!(await directory.existingTenants([input.tenantId])).has(input.tenantId)) throw notFound('Tenant');
      const consent: ConsentRow = {
        id: randomUUID(),
        subjectId,
        tenantId: input.tenantId,
        purpose,
        categories: categories as PiiCategory[],
        policyVersion: input.policyVersion,
        grantedAt,
        expiresAt: input.expiresAt ?? null,
        withdrawnAt: null,
        supersededAt: null,
      };
      await audit('CONSENT_GRANT', { subjectId, tenantId: consent.tenantId, purpose, consentId: consent.id });
      await repo.insertGrantSuperseding(consent);
      return consent;
    },

    /** Withdraws one of the subject's own consents (GDPR Art. 7(3)); audited (CONSENT_WITHDRAW) first. */
    async withdraw(subjectId: string, consentId: string, audit: ActionAuditor): Promise<ConsentRow> {
      if (!isUuid(consentId)) throw badInput('id', 'id is not a valid consent id');
      const [own] = (await repo.findConsentsBySubjects([subjectId])).filter((c) => c.id === consentId);
      if (!own) throw consentNotFound();
      await audit('CONSENT_WITHDRAW', { subjectId, tenantId: own.tenantId, purpose: own.purpose, consentId });
      const consent = await repo.markConsentWithdrawn(consentId, subjectId, now());
      if (!consent) throw consentNotFound();
      return consent;
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
  };
}
