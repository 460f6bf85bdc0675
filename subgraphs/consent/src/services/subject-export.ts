import type { SubjectPrincipal } from '../../../../shared/auth/principal';
import type { ConsentExport, ExportRequest, ExportSummary } from '../../../../shared/export-client';
import type { PolicyRepository } from '../db/repositories/policy-repository';
import { consentStatus, type ConsentService } from './consent-service';

export type ConsentSubjectExport = ReturnType<typeof createConsentSubjectExport>;

/**
 * The consent service's part of a data export (GDPR Art. 15(1)(a)-(d), Art. 7(1)): every consent of
 * the subject with its status, signed receipts and history, and, for each tenant the subject is
 * linked to or consented to, the purposes the tenant's policy in force declares.
 */
export function createConsentSubjectExport(deps: { consents: ConsentService; policyRepo: PolicyRepository; now: () => Date }) {
  const { consents, policyRepo, now } = deps;
  /** The same visibility the subject has through the graph: all of their own consents. */
  const asSubject = (subjectId: string): SubjectPrincipal => ({ kind: 'subject', subjectId, sub: subjectId, scopes: new Set(), emailVerified: null, phoneNumberVerified: null, clientId: null });

  return {
    async exportSubject(request: ExportRequest): Promise<ConsentExport> {
      const { subjectId } = request;
      const principal = asSubject(subjectId);
      const [[rows], [history]] = await Promise.all([consents.consentsVisibleTo(principal, [subjectId]), consents.historyVisibleTo(principal, [subjectId])]);
      const receipts = await consents.receiptsOf(rows.map((c) => c.id));
      const at = now();
      const tenantIds = [...new Set([...(request.tenantIds ?? []), ...rows.map((c) => c.tenantId)])];
      const policies = await Promise.all(tenantIds.map(async (tenantId) => ({ tenantId, policy: await policyRepo.findCurrentPolicy(tenantId, at) })));
      return {
        consents: rows.map((consent, i) => ({
          id: consent.id,
          tenantId: consent.tenantId,
          purpose: consent.purpose,
          categories: consent.categories,
          policyVersion: consent.policyVersion,
          status: consentStatus(consent, at),
          collectionMethod: consent.collectionMethod,
          grantedAt: consent.grantedAt.toISOString(),
          expiresAt: consent.expiresAt?.toISOString() ?? null,
          withdrawnAt: consent.withdrawnAt?.toISOString() ?? null,
          receipts: receipts[i].map((r) => ({ id: r.id, kind: r.kind, issuedAt: r.issuedAt.toISOString(), jws: r.jws })),
          history: history
            .filter((e) => e.consentId === consent.id)
            .map((e) => ({ type: e.type, occurredAt: e.occurredAt.toISOString(), categories: e.categories, policyVersion: e.policyVersion })),
        })),
        policies: policies.map(({ tenantId, policy }) => ({
          tenantId,
          policy: policy
            ? {
                version: policy.version,
                url: policy.url,
                textHash: policy.textHash,
                effectiveAt: policy.effectiveAt.toISOString(),
                purposes: policy.purposes.map((p) => ({ ...p })),
              }
            : null,
        })),
      };
    },

    async summary(request: ExportRequest): Promise<ExportSummary> {
      const [rows] = await consents.consentsVisibleTo(asSubject(request.subjectId), [request.subjectId]);
      return { items: rows.length };
    },
  };
}
