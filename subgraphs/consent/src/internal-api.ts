import type { Router } from 'express';
import { z } from 'zod';
import { CONSENT_ACTIVE_PATH, CONSENT_ERASE_PATH, consentEraseSchema } from '../../../shared/consent-client';
import { CONSENT_PURPOSES_PATH, consentPurposesRequestSchema, type ConsentPurposesResponse } from '../../../shared/consent-purposes-client';
import type { ActionAuditor } from '../../../shared/audit/actions';
import { EXPORT_PATHS, exportRequestSchema, internalRoute } from '../../../shared/export-client';
import { internalHandler } from '../../../shared/internal-api';
import type { Logger } from '../../../shared/logger';
import type { ConsentSubjectExport } from './services/subject-export';
import type { ConsentService } from './services/consent-service';

export function consentRoutes(consents: ConsentService, logger: Logger) {
  return (router: Router) => {
    router.post(
      CONSENT_ACTIVE_PATH.replace(/^\/internal/, ''),
      internalHandler(
        z.object({ tenantId: z.uuid(), purpose: z.string().min(1).max(64), subjectIds: z.array(z.string().max(64)).max(5000) }),
        async (body) => ({ grants: await consents.activeGrants(body.tenantId, body.purpose, body.subjectIds) }),
        logger,
      ),
    );
    // Passports (docs/passports.md): the purpose keys of one subject's consents in force to one tenant
    router.post(
      CONSENT_PURPOSES_PATH.replace(/^\/internal/, ''),
      internalHandler(
        consentPurposesRequestSchema,
        async (body): Promise<ConsentPurposesResponse> => ({ purposes: await consents.activePurposes(body.tenantId, body.subjectId) }),
        logger,
      ),
    );
  };
}

// Data export (GDPR Art. 15): consents, receipts, history and declared purposes, for identity's export assembly
export function exportRoutes(subjectExport: ConsentSubjectExport, logger: Logger) {
  return (router: Router) => {
    router.post(internalRoute(EXPORT_PATHS.subject), internalHandler(exportRequestSchema, (body) => subjectExport.exportSubject(body), logger));
    router.post(internalRoute(EXPORT_PATHS.summary), internalHandler(exportRequestSchema, (body) => subjectExport.summary(body), logger));
  };
}

// Erasure (GDPR Art. 17): identity's erasure saga withdraws every active consent of the subject
/** POST /internal/v1/consents/erase { subjectId } → { withdrawn }; each withdrawal audited by SYSTEM first. Idempotent. */
export function erasureRoutes(consents: ConsentService, audit: ActionAuditor, logger: Logger) {
  return (router: Router) => {
    router.post(
      CONSENT_ERASE_PATH.replace(/^\/internal/, ''),
      internalHandler(consentEraseSchema, (body) => consents.eraseSubject(body.subjectId, audit), logger),
    );
  };
}
