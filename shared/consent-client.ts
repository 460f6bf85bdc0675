import { z } from 'zod';
import { internalClientFor, type InternalCallOptions } from './internal-api';
import type { InternalApiConfig } from './config';

export const CONSENT_ACTIVE_PATH = '/internal/v1/consents/active';

export interface ActiveConsent {
  subjectId: string;
  consentId: string;
  categories: string[];
}

/** The consent service's decision API as the pii service sees it. */
export interface ConsentLookups {
  /** Consents in force now for one tenant and purpose, for all subjects of a request at once. */
  activeConsents(tenantId: string, purpose: string, subjectIds: string[], call?: InternalCallOptions): Promise<ActiveConsent[]>;
}

export function createRemoteConsentLookups(config: InternalApiConfig): ConsentLookups {
  const client = internalClientFor(config, 'consent');
  return {
    async activeConsents(tenantId, purpose, subjectIds, call) {
      const { grants } = await client.post<{ grants: ActiveConsent[] }>(CONSENT_ACTIVE_PATH, { tenantId, purpose, subjectIds }, call);
      return grants;
    },
  };
}

/** The consent service's erasure step: every active consent of the subject withdrawn, with a receipt. */
export const CONSENT_ERASE_PATH = '/internal/v1/consents/erase';

export interface ConsentErasure {
  eraseSubject(subjectId: string): Promise<{ withdrawn: number }>;
}

export function createRemoteConsentErasure(config: InternalApiConfig): ConsentErasure {
  const client = internalClientFor(config, 'consent');
  return { eraseSubject: (subjectId) => client.post<{ withdrawn: number }>(CONSENT_ERASE_PATH, { subjectId }) };
}

/** The body the consent service validates on CONSENT_ERASE_PATH (one contract for both sides). */
export const consentEraseSchema = z.object({ subjectId: z.uuid() });
