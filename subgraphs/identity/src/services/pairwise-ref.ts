import { createHmac } from 'node:crypto';

/**
 * The pairwise pseudonymous reference a tenant knows a subject by: HMAC-SHA-256 under the platform
 * secret over (tenant, subject), in the spirit of OIDC pairwise subject identifiers (OIDC Core §8.1).
 * Different for every tenant, stable for a pair, and not reversible or linkable without the secret.
 */
export function pairwiseRef(secret: string, tenantId: string, subjectId: string): string {
  const mac = createHmac('sha256', secret).update(`privgraph:ref:v1\u0000${tenantId}\u0000${subjectId}`).digest();
  return `usr_${mac.subarray(0, 20).toString('base64url')}`;
}
