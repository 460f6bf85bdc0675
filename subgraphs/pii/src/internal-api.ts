import type { Router } from 'express';
import { EXPORT_PATHS, exportRequestSchema, internalRoute } from '../../../shared/export-client';
import { internalHandler } from '../../../shared/internal-api';
import type { Logger } from '../../../shared/logger';
import type { SubjectExport } from './services/subject-export';

/** What the vault's internal routes need; each part of the platform's rights machinery adds its own. */
export interface PiiRouteDeps {
  exports: SubjectExport;
}

/** The vault's internal API (called by identity only, with the internal token). */
export function piiRoutes(deps: PiiRouteDeps, logger: Logger) {
  return (router: Router) => {
    // --- Data export (GDPR Art. 15, 20): every field decrypted, each read audited as the subject's own ---
    router.post(internalRoute(EXPORT_PATHS.subject), internalHandler(exportRequestSchema, (body) => deps.exports.exportSubject(body), logger));
    router.post(internalRoute(EXPORT_PATHS.summary), internalHandler(exportRequestSchema, (body) => deps.exports.summary(body), logger));
    // --- end data export ---
  };
}
