/**
 * PII categories and the scopes that unlock them. The `@pii(category:)` directive on a field is the
 * single source of truth: permissions, audit field names and docs are derived from the schema.
 */
export const PII_CATEGORIES = ['CONTACT', 'IDENTITY', 'ADDRESS', 'GOVERNMENT_ID'] as const;
export type PiiCategory = (typeof PII_CATEGORIES)[number];

export function isPiiCategory(value: unknown): value is PiiCategory {
  return typeof value === 'string' && (PII_CATEGORIES as readonly string[]).includes(value);
}

/** `CONTACT` → `pii:contact:read` */
export function readScopeFor(category: PiiCategory): string {
  return `pii:${category.toLowerCase()}:read`;
}

export const SCOPES = {
  platformAdmin: 'platform:admin',
  tenantAdmin: 'tenant:admin',
} as const;

/** Purpose keys: lower-case identifiers, e.g. `order_fulfillment`. */
export const PURPOSE_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

export const PURPOSE_HEADER = 'x-privacy-purpose';
export const REQUEST_ID_HEADER = 'x-request-id';
