import { z } from 'zod';
import type { InternalApiConfig } from './config';
import { internalClientFor } from './internal-api';
import { PII_CATEGORIES } from './pii';

/**
 * The internal export API (GDPR Art. 15 and 20): each owning service exports only its own part of one
 * subject's data, and identity assembles the document. Paths, request and answer schemas and the
 * client live here once, used by both sides. `…/summary` routes answer counts only: no value is
 * decrypted or sent, so a job can record each system's step without touching personal data.
 */
export const EXPORT_PATHS = {
  subject: '/internal/v1/export/subject',
  summary: '/internal/v1/export/subject/summary',
} as const;

const id = z.string().min(1).max(200);
const timestamp = z.string().min(1).max(64);
const category = z.enum(PII_CATEGORIES);

/** The request every export route takes. `requestId` ties the audit events to the data subject request. */
export const exportRequestSchema = z.object({
  subjectId: z.uuid(),
  requestId: z.string().min(1).max(128).optional(),
  /** consent only: the tenants the subject is linked to (identity knows them), for their declared purposes. */
  tenantIds: z.array(z.uuid()).max(1000).optional(),
  /** pii only (required there): a DSR grant for the action `export` (shared/dsr-grant.ts), signed by identity. */
  grant: z.string().min(1).max(4000).optional(),
});
export type ExportRequest = z.infer<typeof exportRequestSchema>;

export const exportSummarySchema = z.object({ items: z.number().int().min(0) });
export type ExportSummary = z.infer<typeof exportSummarySchema>;

export const addressSchema = z.object({
  line1: z.string(),
  line2: z.string().nullable(),
  city: z.string(),
  postalCode: z.string(),
  country: z.string(),
});

/** pii: the region and every field the vault holds, decrypted (null: not stored). */
export const piiExportSchema = z.object({
  region: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  givenName: z.string().nullable(),
  familyName: z.string().nullable(),
  birthDate: z.string().nullable(),
  address: addressSchema.nullable(),
  nationalId: z.string().nullable(),
});
export type PiiExport = z.infer<typeof piiExportSchema>;

export const purposeSchema = z.object({
  key: z.string(),
  description: z.string(),
  categories: z.array(category),
  lawfulBasis: z.string(),
  retentionDays: z.number().int(),
});

export const consentExportSchema = z.object({
  consents: z.array(
    z.object({
      id,
      tenantId: id,
      purpose: z.string(),
      categories: z.array(category),
      policyVersion: z.string(),
      status: z.enum(['ACTIVE', 'WITHDRAWN', 'EXPIRED', 'SUPERSEDED']),
      collectionMethod: z.string().nullable(),
      grantedAt: timestamp,
      expiresAt: timestamp.nullable(),
      withdrawnAt: timestamp.nullable(),
      receipts: z.array(z.object({ id, kind: z.enum(['GRANT', 'WITHDRAWAL']), issuedAt: timestamp, jws: z.string() })),
      history: z.array(
        z.object({
          type: z.enum(['GRANTED', 'WITHDRAWN', 'SUPERSEDED', 'EXPIRED']),
          occurredAt: timestamp,
          categories: z.array(category),
          policyVersion: z.string(),
        }),
      ),
    }),
  ),
  /** Per tenant: the policy version in force and the purposes it declares (null: none published). */
  policies: z.array(
    z.object({
      tenantId: id,
      policy: z
        .object({ version: z.string(), url: z.string(), textHash: z.string(), effectiveAt: timestamp, purposes: z.array(purposeSchema) })
        .nullable(),
    }),
  ),
});
export type ConsentExport = z.infer<typeof consentExportSchema>;

export const auditExportSchema = z.object({
  entries: z.array(
    z.object({
      occurredAt: timestamp,
      accessorType: z.string(),
      tenantId: id.nullable(),
      tenantName: z.string().nullable(),
      action: z.string(),
      field: z.string().nullable(),
      purpose: z.string().nullable(),
      decision: z.enum(['ALLOW', 'DENY']),
      reason: z.string(),
      consentId: id.nullable(),
      /** FAILED when the entry records an admin operation that failed after it was recorded (docs/audit.md#outcomes). */
      outcome: z.enum(['FAILED']).nullable().optional(),
      /** The requester's network (truncated or keyed-hashed) and user-agent class, as myAccessLog shows them. */
      origin: z.string().nullable().optional(),
      userAgentClass: z.string().nullable().optional(),
    }),
  ),
});
export type AuditExport = z.infer<typeof auditExportSchema>;

export type ExportSystem = 'pii' | 'consent' | 'audit';

export interface ExportClients {
  pii(request: ExportRequest): Promise<PiiExport>;
  consent(request: ExportRequest): Promise<ConsentExport>;
  audit(request: ExportRequest): Promise<AuditExport>;
  /** How many items a system holds for the subject (nothing is decrypted). */
  summary(system: ExportSystem, request: ExportRequest): Promise<ExportSummary>;
}

/** Identity's view of the three export routes. Answers are validated, so a malformed one fails loudly. */
export function createExportClients(config: InternalApiConfig): ExportClients {
  const clients = {
    pii: internalClientFor(config, 'pii'),
    consent: internalClientFor(config, 'consent'),
    audit: internalClientFor(config, 'audit'),
  };
  return {
    pii: async (request) => piiExportSchema.parse(await clients.pii.post(EXPORT_PATHS.subject, request)),
    consent: async (request) => consentExportSchema.parse(await clients.consent.post(EXPORT_PATHS.subject, request)),
    audit: async (request) => auditExportSchema.parse(await clients.audit.post(EXPORT_PATHS.subject, request)),
    summary: async (system, request) => exportSummarySchema.parse(await clients[system].post(EXPORT_PATHS.summary, request)),
  };
}

/** The route path as mounted under the internal router (which sits at /internal). */
export const internalRoute = (path: string) => path.replace(/^\/internal/, '');
