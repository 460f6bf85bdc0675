import type { Router } from 'express';
import { EXPORT_PATHS, exportRequestSchema, internalRoute } from '../../../shared/export-client';
import { ERASURE_PATHS, piiErasureRequest } from '../../../shared/erasure-client';
import type { DsrGrantAction } from '../../../shared/dsr-grant';
import { internalHandler, InternalRefusal } from '../../../shared/internal-api';
import type { Logger } from '../../../shared/logger';
import type { SubjectExport } from './services/subject-export';
import type { VaultService } from './services/vault-service';

/** What the vault's internal routes need; each part of the platform's rights machinery adds its own. */
export interface PiiRouteDeps {
  exports: SubjectExport;
  vault: Pick<VaultService, 'erase'>;
  /** Checks the DSR grant identity signed for this subject and action; the request id it was issued for, or null. */
  verifyGrant: (grant: string | undefined, expected: { subjectId: string; action: DsrGrantAction }) => Promise<string | null>;
}

/** Decrypting or destroying everything about a subject needs identity's signed grant, not only the internal token. */
async function granted(deps: PiiRouteDeps, grant: string | undefined, subjectId: string, action: DsrGrantAction, requestId?: string): Promise<void> {
  const rid = await deps.verifyGrant(grant, { subjectId, action });
  if (!rid || (requestId !== undefined && rid !== requestId)) throw new InternalRefusal(`a valid ${action} grant is required`);
}

/** The vault's internal API (called by identity only, with the internal token). */
export function piiRoutes(deps: PiiRouteDeps, logger: Logger) {
  return (router: Router) => {
    // Data export (GDPR Art. 15, 20): every field decrypted, each read audited as the subject's own
    router.post(
      internalRoute(EXPORT_PATHS.subject),
      internalHandler(exportRequestSchema, async (body) => {
        await granted(deps, body.grant, body.subjectId, 'export', body.requestId);
        return deps.exports.exportSubject(body);
      }, logger),
    );
    router.post(internalRoute(EXPORT_PATHS.summary), internalHandler(exportRequestSchema, (body) => deps.exports.summary(body), logger));
    // Erasure (GDPR Art. 17): ledger entry, then crypto-shredding in every region
    router.post(
      ERASURE_PATHS.pii.replace(/^\/internal/, ''),
      internalHandler(piiErasureRequest, async (body) => {
        await granted(deps, body.grant, body.subjectId, 'erase', body.requestId);
        return deps.vault.erase(body.subjectId, body.requestId);
      }, logger),
    );
  };
}
