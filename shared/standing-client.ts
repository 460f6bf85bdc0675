import { z } from 'zod';
import type { InternalApiConfig } from './config';
import { internalClientFor, type InternalCallOptions } from './internal-api';

/**
 * Identity's standing API: for one tenant and the subjects of one request, whether each may be served
 * to that tenant. BLOCKED when the tenant's admin blocked the user or the platform suspended the
 * subject; absent when the subject is not connected to the tenant. The vault asks it once per request
 * (docs/tenant-admin.md). One module for both sides: path, schema, types, client.
 */
export const STANDING_PATH = '/internal/v1/directory/standing';

export const STANDINGS = ['ACTIVE', 'BLOCKED'] as const;
export type Standing = (typeof STANDINGS)[number];

export const standingRequestSchema = z.object({ tenantId: z.uuid(), subjectIds: z.array(z.uuid()).max(5000) });
export type StandingRequest = z.infer<typeof standingRequestSchema>;

export const standingResponseSchema = z.object({ standings: z.record(z.string(), z.enum(STANDINGS)) });
export type StandingResponse = z.infer<typeof standingResponseSchema>;

export interface StandingLookups {
  /** Rejects when identity is unreachable: callers fail closed. */
  standings(tenantId: string, subjectIds: string[], call?: InternalCallOptions): Promise<Map<string, Standing>>;
}

export function createRemoteStandingLookups(config: InternalApiConfig): StandingLookups {
  const client = internalClientFor(config, 'identity');
  return {
    async standings(tenantId, subjectIds, call) {
      if (subjectIds.length === 0) return new Map();
      const body: StandingRequest = { tenantId, subjectIds };
      const { standings } = standingResponseSchema.parse(await client.post<unknown>(STANDING_PATH, body, call));
      return new Map(Object.entries(standings));
    },
  };
}
