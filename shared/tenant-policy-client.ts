import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { InternalApiConfig } from './config';
import { internalClientFor } from './internal-api';

/**
 * The identity service's internal API for what the gateway enforces per tenant: the safelist mode and
 * registered persisted operations (docs/safelisting.md), the browser origins tenants allow (docs/cors.md),
 * the tenant's rate-limit budget (docs/security.md#rate-limits) and the gateway's batched REPORT counts. One path, one schema for both sides, one client.
 */
export const TENANT_POLICY_PATHS = {
  policy: '/internal/v1/tenant-policy/policy',
  operationBody: '/internal/v1/tenant-policy/operations/body',
  origins: '/internal/v1/tenant-policy/origins',
  reports: '/internal/v1/tenant-policy/reports',
} as const;

export const SAFELIST_MODES = ['OFF', 'REPORT', 'ENFORCE'] as const;
export type SafelistMode = (typeof SAFELIST_MODES)[number];

/** Bounds on what a tenant can register: the gateway holds every tenant's hashes in memory. */
export const PERSISTED_OPERATION_LIMITS = {
  perManifest: 200,
  perTenant: 1000,
  bodyBytes: 16 * 1024,
  nameLength: 100,
} as const;
export const MAX_ORIGINS_PER_TENANT = 20;
/** Distinct unregistered documents remembered per tenant in REPORT mode (the total count has no cap). */
export const MAX_REPORTED_OPERATIONS_PER_TENANT = 100;

export const OPERATION_ID_PATTERN = /^[0-9a-f]{64}$/;
/** A GraphQL Name: what an operation name must be to be logged or stored. */
export const OPERATION_NAME_PATTERN = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

/** The id of a persisted operation: SHA-256 (hex) of the exact document text, as Apollo's APQ and manifests define it. */
export function operationIdOf(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/**
 * An allowed browser origin, exactly as a browser serializes it in the `Origin` header (RFC 6454 §6.1):
 * `scheme://host[:port]`, lower case, no default port, no path, no trailing slash, no credentials,
 * internationalized host names in punycode. https only in production; outside production http as well.
 * Returns the origin, or a reason it is refused (never echoing the value).
 */
export function checkOrigin(value: string, options: { production: boolean }): { origin: string } | { refused: string } {
  if (value.length > 255) return { refused: 'is longer than 255 characters' };
  if (value === '*' || value === 'null') return { refused: 'must be an exact origin (no wildcard, not "null")' };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { refused: 'is not an origin like https://shop.example' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { refused: 'must use https (or http outside production)' };
  if (options.production && url.protocol !== 'https:') return { refused: 'must use https in production' };
  if (url.origin !== value) return { refused: 'must be scheme://host[:port] exactly as browsers send it: lower case, no path, no trailing slash, no default port' };
  return { origin: url.origin };
}

export const policyRequestSchema = z.object({ organizationId: z.string().min(1).max(200) });
export const policySchema = z.object({
  /** null: the organization is no registered tenant (the subgraphs refuse its tokens anyway). */
  tenantId: z.string().nullable(),
  mode: z.enum(SAFELIST_MODES),
  operationIds: z.array(z.string().regex(OPERATION_ID_PATTERN)).max(PERSISTED_OPERATION_LIMITS.perTenant),
  /** Points per rate-limit window for each of the tenant's principals; null: the gateway's default. */
  rateLimitPoints: z.number().int().min(1).nullable(),
});
export type TenantPolicy = z.infer<typeof policySchema>;

export const operationBodyRequestSchema = z.object({ operationId: z.string().regex(OPERATION_ID_PATTERN) });
export const operationBodySchema = z.object({ body: z.string().max(PERSISTED_OPERATION_LIMITS.bodyBytes).nullable() });

export const originsRequestSchema = z.object({}).strict();
export const originsSchema = z.object({ origins: z.array(z.string().max(255)) });

export const reportsRequestSchema = z.object({
  reports: z
    .array(
      z.object({
        tenantId: z.string().min(1).max(200),
        operationId: z.string().regex(OPERATION_ID_PATTERN),
        operationName: z.string().regex(OPERATION_NAME_PATTERN).nullable(),
        count: z.number().int().min(1).max(1_000_000_000),
        lastSeenAt: z.iso.datetime(),
      }),
    )
    .max(1000),
});
export type SafelistReport = z.infer<typeof reportsRequestSchema>['reports'][number];
export const reportsSchema = z.object({ accepted: z.number().int() });

export interface TenantPolicyClient {
  policy(organizationId: string): Promise<TenantPolicy>;
  /** The registered body with that id (any tenant's: the id is the body's hash), or null. */
  operationBody(operationId: string): Promise<string | null>;
  /** The union of every tenant's allowed origins. */
  origins(): Promise<string[]>;
  report(reports: SafelistReport[]): Promise<void>;
}

/** The gateway's side: throws DependencyUnavailableError('directory') when identity does not answer. */
export function createTenantPolicyClient(config: InternalApiConfig): TenantPolicyClient {
  const client = internalClientFor(config, 'identity');
  return {
    async policy(organizationId) {
      return policySchema.parse(await client.post<unknown>(TENANT_POLICY_PATHS.policy, { organizationId }));
    },
    async operationBody(operationId) {
      return operationBodySchema.parse(await client.post<unknown>(TENANT_POLICY_PATHS.operationBody, { operationId })).body;
    },
    async origins() {
      return originsSchema.parse(await client.post<unknown>(TENANT_POLICY_PATHS.origins, {})).origins;
    },
    async report(reports) {
      if (reports.length === 0) return;
      reportsSchema.parse(await client.post<unknown>(TENANT_POLICY_PATHS.reports, { reports }));
    },
  };
}
