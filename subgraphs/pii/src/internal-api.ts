import type { Router } from 'express';
import { EXPORT_PATHS, exportRequestSchema, internalRoute } from '../../../shared/export-client';
import { ERASURE_PATHS, piiErasureRequest } from '../../../shared/erasure-client';
import { internalHandler } from '../../../shared/internal-api';
import type { Logger } from '../../../shared/logger';
import type { SubjectExport } from './services/subject-export';
import type { VaultService } from './services/vault-service';

/** What the vault's internal routes need; each part of the platform's rights machinery adds its own. */
export interface PiiRouteDeps {
  exports: SubjectExport;
  vault: Pick<VaultService, 'erase'>;
}

/** The vault's internal API (called by identity only, with the internal token). */
export function piiRoutes(deps: PiiRouteDeps, logger: Logger) {
  return (router: Router) => {
    // --- Data export (GDPR Art. 15, 20): every field decrypted, each read audited as the subject's own ---
    router.post(internalRoute(EXPORT_PATHS.subject), internalHandler(exportRequestSchema, (body) => deps.exports.exportSubject(body), logger));
    router.post(internalRoute(EXPORT_PATHS.summary), internalHandler(exportRequestSchema, (body) => deps.exports.summary(body), logger));
    // --- end data export ---
    // --- Erasure (GDPR Art. 17): ledger entry, then crypto-shredding in every region ---
    router.post(
      ERASURE_PATHS.pii.replace(/^\/internal/, ''),
      internalHandler(piiErasureRequest, (body) => deps.vault.erase(body.subjectId, body.requestId), logger),
    );
    // --- end erasure ---
  };
}
