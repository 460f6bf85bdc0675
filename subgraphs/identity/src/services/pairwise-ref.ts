import { createHmac } from 'node:crypto';

/**
 * The pairwise pseudonymous reference a tenant knows a subject by: HMAC-SHA-256 under the platform
 * secret over (tenant, subject), in the spirit of OIDC pairwise subject identifiers (OIDC Core §8.1).
 * Different for every tenant, stable for a pair, and not reversible or linkable without the secret.
 */
export function pairwiseRef(secret: string, tenantId: string, subjectId: string): string {
  return pairwiseId(secret, 'ref:v1', 'usr_', tenantId, subjectId);
}

/**
 * Any identifier one tenant may see that must not match what another tenant sees for the same thing
 * (a subject, an erasure request): a keyed hash of (purpose, tenant, value) under the platform secret.
 */
export function pairwiseId(secret: string, purpose: string, prefix: string, tenantId: string, value: string): string {
  const mac = createHmac('sha256', secret).update(`privgraph:${purpose}\u0000${tenantId}\u0000${value}`).digest();
  return `${prefix}${mac.subarray(0, 20).toString('base64url')}`;
}
