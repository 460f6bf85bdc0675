import { parsePhoneNumberWithError, isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import { badInput } from '../../../../shared/errors';

/** The stored field names; each maps to one encrypted row. */
export const PROFILE_FIELDS = ['email', 'phone', 'givenName', 'familyName', 'birthDate', 'address', 'nationalId'] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];

export interface AddressValue {
  line1: string;
  line2: string | null;
  city: string;
  postalCode: string;
  country: string;
}

export type ProfileValues = {
  email?: string | null;
  phone?: string | null;
  givenName?: string | null;
  familyName?: string | null;
  birthDate?: string | null;
  address?: AddressValue | null;
  nationalId?: string | null;
};

/** Plaintext ready to encrypt (null = erase the field). */
export type ValidatedProfile = Partial<Record<ProfileField, string | null>>;

const NO_CONTROL = /^[^\p{Cc}\p{Cs}]*$/u;
const text = (min: number, max: number) => z.string().trim().min(min).max(max).regex(NO_CONTROL);

/**
 * Validates every field before anything is written; the first problem is reported by field name
 * (never by value, which is personal data).
 */
export function validateProfile(input: ProfileValues, today: Date): ValidatedProfile {
  const out: ValidatedProfile = {};
  for (const field of PROFILE_FIELDS) {
    if (!(field in input) || input[field] === undefined) continue;
    const value = input[field];
    out[field] = value === null ? null : normalise(field, value, today);
  }
  if (Object.keys(out).length === 0) throw badInput('input', 'Give at least one field to update');
  return out;
}

function normalise(field: ProfileField, value: string | AddressValue, today: Date): string {
  const path = `input.${field}`;
  switch (field) {
    case 'email': {
      const parsed = z.email().max(254).safeParse((value as string).trim());
      if (!parsed.success) throw badInput(path, 'email is not a valid address');
      return parsed.data;
    }
    case 'phone': {
      try {
        const phone = parsePhoneNumberWithError((value as string).trim());
        if (!phone.isValid()) throw new Error('invalid');
        return phone.number;
      } catch {
        throw badInput(path, 'phone must be a valid number in international format, e.g. +49 30 123456');
      }
    }
    case 'givenName':
    case 'familyName': {
      const parsed = text(1, 100).safeParse(value);
      if (!parsed.success) throw badInput(path, `${field} must be 1-100 characters without control characters`);
      return parsed.data;
    }
    case 'birthDate': {
      const date = value as string;
      if (date > today.toISOString().slice(0, 10) || date < '1900-01-01') {
        throw badInput(path, 'birthDate must be between 1900-01-01 and today');
      }
      return date;
    }
    case 'nationalId': {
      const parsed = z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9 ./-]{0,63}$/).safeParse(value);
      if (!parsed.success) throw badInput(path, 'nationalId must be 1-64 letters, digits, spaces or . / -');
      return parsed.data;
    }
    case 'address':
      return JSON.stringify(normaliseAddress(value as AddressValue));
  }
}

function normaliseAddress(address: AddressValue): AddressValue {
  const check = (name: keyof AddressValue, schema: z.ZodType<string>, message: string) => {
    const parsed = schema.safeParse(address[name]);
    if (!parsed.success) throw badInput(`input.address.${name}`, message);
    return parsed.data;
  };
  const country = check('country', z.string().trim().toUpperCase().length(2), 'country must be an ISO 3166-1 alpha-2 code, e.g. DE');
  if (!isSupportedCountry(country)) throw badInput('input.address.country', 'country is not a known ISO 3166-1 alpha-2 code');
  return {
    line1: check('line1', text(1, 200), 'line1 must be 1-200 characters'),
    line2: address.line2 == null || address.line2.trim() === '' ? null : check('line2', text(1, 200), 'line2 must be at most 200 characters'),
    city: check('city', text(1, 100), 'city must be 1-100 characters'),
    postalCode: check('postalCode', z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9 -]{0,15}$/), 'postalCode must be 1-16 letters, digits, spaces or -'),
    country,
  };
}

/** Stored string → GraphQL value. */
export function decodeField(field: ProfileField, plaintext: string): string | AddressValue {
  return field === 'address' ? (JSON.parse(plaintext) as AddressValue) : plaintext;
}
