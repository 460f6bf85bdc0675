import type { Router } from 'express';
import { z } from 'zod';
import { CONSENT_ACTIVE_PATH } from '../../../shared/consent-client';
import { internalHandler } from '../../../shared/internal-api';
import type { Logger } from '../../../shared/logger';
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
  };
}
