import { badInput } from './errors';

/**
 * Edge checks for free text and lookup keys. PostgreSQL text cannot hold U+0000 (SQLSTATE 22021) and a btree
 * entry is limited to about 2.7 kB (54000), so such values are refused here, naming the field, before any query.
 */
export const hasNul = (value: string): boolean => value.includes('\u0000');

/** A value that can name a stored key (a ref, a region, a request id): no NUL, at most maxLength characters. */
export const isLookupKey = (value: string, maxLength = 256): boolean => value.length <= maxLength && !hasNul(value);

/** Refuses free text with a NUL or beyond maxLength characters (BAD_USER_INPUT naming the field); returns it unchanged. */
export function checkText(field: string, value: string, maxLength: number): string {
  if (hasNul(value)) throw badInput(field, `${field} must not contain a NUL character`);
  if (value.length > maxLength) throw badInput(field, `${field} is at most ${maxLength} characters`);
  return value;
}

/** Largest value of a PostgreSQL bigint: cursors and sequence numbers beyond it name nothing (22003 otherwise). */
export const MAX_BIGINT = 2n ** 63n - 1n;
