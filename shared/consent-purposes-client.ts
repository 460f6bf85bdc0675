import { z } from 'zod';
import type { InternalApiConfig } from './config';
import { internalClientFor } from './internal-api';

/**
 * The consent service's purposes API: the purpose keys of one subject's consents in force to one tenant,
 * for identity's passports (docs/passports.md). Keys only: no categories, policy text or dates.
 * One module for both sides: path, schema, types, client.
 */
export const CONSENT_PURPOSES_PATH = '/internal/v1/consents/purposes';

export const consentPurposesRequestSchema = z.object({ tenantId: z.uuid(), subjectId: z.uuid() });
export type ConsentPurposesRequest = z.infer<typeof consentPurposesRequestSchema>;

export const consentPurposesResponseSchema = z.object({ purposes: z.array(z.string().min(1).max(64)).max(1000) });
export type ConsentPurposesResponse = z.infer<typeof consentPurposesResponseSchema>;

export interface ConsentPurposes {
  /** Sorted, distinct purpose keys of the subject's active consents to the tenant; rejects when consent is unreachable. */
  activePurposes(tenantId: string, subjectId: string): Promise<string[]>;
}

export function createRemoteConsentPurposes(config: InternalApiConfig): ConsentPurposes {
  const client = internalClientFor(config, 'consent');
  return {
    async activePurposes(tenantId, subjectId) {
      const body: ConsentPurposesRequest = { tenantId, subjectId };
      return consentPurposesResponseSchema.parse(await client.post<unknown>(CONSENT_PURPOSES_PATH, body)).purposes;
    },
  };
}
