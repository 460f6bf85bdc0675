import { z } from 'zod';
import type { InternalApiConfig } from './config';
import { internalClientFor } from './internal-api';

/**
 * The internal API of erasure steps that run in other services (the erasure saga lives in identity):
 * one module for both sides — paths, request schemas and clients.
 */
export const ERASURE_PATHS = {
  /** pii: ledger entry, then crypto-shredding in every region. */
  pii: '/internal/v1/erasure/pii',
  /** audit: does the chain verify, and is the subject's evidence under a legal hold? */
  auditCheck: '/internal/v1/erasure/audit-check',
} as const;

/** `grant`: a DSR grant for the action `erase` (shared/dsr-grant.ts), signed by identity. */
export const piiErasureRequest = z.object({ subjectId: z.uuid(), requestId: z.uuid(), grant: z.string().min(1).max(4000) });
export interface PiiErasureResult {
  region: string | null;
  keysDestroyed: number;
  ciphertextsDeleted: number;
}

export const auditErasureCheckRequest = z.object({ subjectId: z.uuid() });
export interface AuditErasureCheck {
  chainVerifies: boolean;
  /** The verification's problem code when the chain does not verify. */
  problem: string | null;
  legalHold: boolean;
  /** Events about the subject, kept under the opaque subject id only. */
  events: number;
}

export interface ErasurePorts {
  erasePii(subjectId: string, requestId: string, grant: string): Promise<PiiErasureResult>;
  checkAudit(subjectId: string): Promise<AuditErasureCheck>;
}

/** Verifying the whole audit chain takes time that grows with the log: not a 2-second call. */
export const AUDIT_CHECK_TIMEOUT_MS = 15 * 60_000;

export function createRemoteErasurePorts(config: InternalApiConfig): ErasurePorts {
  const pii = internalClientFor(config, 'pii');
  const audit = internalClientFor(config, 'audit', { timeoutMs: AUDIT_CHECK_TIMEOUT_MS });
  return {
    erasePii: (subjectId, requestId, grant) => pii.post<PiiErasureResult>(ERASURE_PATHS.pii, { subjectId, requestId, grant }),
    checkAudit: (subjectId) => audit.post<AuditErasureCheck>(ERASURE_PATHS.auditCheck, { subjectId }),
  };
}
