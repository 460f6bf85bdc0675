import { parsePhoneNumberWithError } from 'libphonenumber-js';
import { z } from 'zod';
import { badInput } from '../../../../shared/errors';

/**
 * Blind-index inputs: the value normalised so that equal contacts give equal digests, prefixed by its
 * kind so an email and a phone never collide. The index leaks equality only (two subjects share an
 * email ⇔ their digests match); it supports exact match, never prefix, range or fuzzy search.
 */
export type IndexKind = 'email' | 'phone';
export const INDEXED_FIELDS: Record<IndexKind, 'email' | 'phone'> = { email: 'email', phone: 'phone' };

/** Email: trimmed, Unicode NFKC, lower-cased as a whole (providers treat the local part case-insensitively). */
export function normaliseEmail(value: string): string {
  return value.trim().normalize('NFKC').toLowerCase();
}

/** Stored values are already validated; a lookup argument is validated here. */
export function indexInput(kind: IndexKind, value: string, field = kind): string {
  if (kind === 'email') {
    const parsed = z.email().max(254).safeParse(value.trim());
    if (!parsed.success) throw badInput(field, 'email is not a valid address');
    return `email:${normaliseEmail(parsed.data)}`;
  }
  try {
    const phone = parsePhoneNumberWithError(value.trim());
    if (!phone.isValid()) throw new Error('invalid');
    return `phone:${phone.number}`;
  } catch {
    throw badInput(field, 'phone must be a valid number in international format, e.g. +49 30 123456');
  }
}
