import { randomUUID } from 'node:crypto';
import type { AuditEventInput, AuditSink } from '../../../../shared/audit/events';
import type { ExportRequest, ExportSummary, PiiExport } from '../../../../shared/export-client';
import { PROFILE_FIELDS, type AddressValue } from './profile-input';
import type { VaultService } from './vault-service';

/** The purpose the export's reads are audited under. */
export const EXPORT_PURPOSE = 'data_export';

export type SubjectExport = ReturnType<typeof createSubjectExport>;

/**
 * The vault's part of a data export (GDPR Art. 15, 20): the subject's region and every stored field,
 * decrypted. The export is the subject reading their own data, so each field is audited as the
 * subject's own read (PII_READ, reason SELF, purpose data_export), committed before any value leaves.
 */
export function createSubjectExport(deps: { vault: VaultService; audit: AuditSink; now: () => Date }) {
  const { vault, audit, now } = deps;
  return {
    async exportSubject(request: ExportRequest): Promise<PiiExport> {
      const { subjectId } = request;
      const record = (await vault.loadRecords([subjectId])).get(subjectId);
      const out: PiiExport = {
        region: record?.region ?? (await vault.regionsOf([subjectId])).get(subjectId) ?? null,
        email: null,
        phone: null,
        givenName: null,
        familyName: null,
        birthDate: null,
        address: null,
        nationalId: null,
      };
      const stored = PROFILE_FIELDS.filter((field) => record?.fields.has(field));
      if (stored.length === 0) return out;
      const requestId = request.requestId ?? `data-export-${randomUUID()}`;
      const events: AuditEventInput[] = stored.map((field) => ({
        occurredAt: now().toISOString(),
        actorType: 'SUBJECT',
        actorId: subjectId,
        tenantId: null,
        subjectId,
        action: 'PII_READ',
        field: `User.${field}`,
        purpose: EXPORT_PURPOSE,
        decision: 'ALLOW',
        reason: 'SELF',
        consentId: null,
        requestId,
      }));
      // Durably recorded first: if the audit log cannot take them, nothing is decrypted or returned.
      await audit.append(events);
      for (const field of stored) {
        const value = vault.decrypt(record, field);
        if (field === 'address') out.address = value as AddressValue | null;
        else out[field] = value as string | null;
      }
      return out;
    },

    /** How many fields the vault holds for the subject; nothing is decrypted. */
    async summary(request: ExportRequest): Promise<ExportSummary> {
      const record = (await vault.loadRecords([request.subjectId])).get(request.subjectId);
      return { items: PROFILE_FIELDS.filter((field) => record?.fields.has(field)).length };
    },
  };
}
