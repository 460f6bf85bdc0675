import { badInput } from './errors';

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

/** `CONTACT` → `pii:contact:read:masked`: the masked view of a category's fields that define a mask. */
export function maskedScopeFor(category: PiiCategory): string {
  return `${readScopeFor(category)}:masked`;
}

/**
 * Masks a field can declare next to its category (`@pii(category: CONTACT, mask: EMAIL)`):
 * EMAIL `a***@example.com`, PHONE `*** *** 1234`, INITIAL `A.`, LAST4 `***1234`,
 * ADDRESS city and country kept, street and postal code hidden.
 */
export const PII_MASKS = ['EMAIL', 'PHONE', 'INITIAL', 'LAST4', 'ADDRESS'] as const;
export type PiiMask = (typeof PII_MASKS)[number];

export function isPiiMask(value: unknown): value is PiiMask {
  return typeof value === 'string' && (PII_MASKS as readonly string[]).includes(value);
}

export const SCOPES = {
  platformAdmin: 'platform:admin',
  tenantAdmin: 'tenant:admin',
} as const;

/** Purpose keys: lower-case identifiers, e.g. `order_fulfillment`. */
export const PURPOSE_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

/**
 * The reason a platform admin states for an operation: a reason code or ticket reference in the
 * purpose-key format (stored as the audit event's purpose), never free text that could carry personal data.
 */
export function checkAdminReason(reason: string): string {
  if (!PURPOSE_PATTERN.test(reason)) {
    throw badInput('reason', 'reason must be a reason code or ticket reference: lower-case letters, digits and _ . - (e.g. dsar-1042)');
  }
  return reason;
}

export const PURPOSE_HEADER = 'x-privacy-purpose';
export const REQUEST_ID_HEADER = 'x-request-id';
