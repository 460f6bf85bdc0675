import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';

/** The media type in a passport's `typ` header: a consent receipt or audit checkpoint signed with the same key is no passport. */
export const PASSPORT_TYPE = 'privgraph-passport+jwt';
/** Passports are signed with the platform key, ES256 only (RFC 7515; no `alg` downgrade). */
export const PASSPORT_ALGORITHM = 'ES256';

export type PassportUserStatus = 'ACTIVE' | 'BLOCKED' | 'ERASED';

/** Who is signed in on the shop's site, as privgraph vouches for it. It holds no personal data. */
export interface Passport {
  /** The user's pairwise ref for this shop (the same ref `user(ref:)` takes). */
  ref: string;
  /** The shop the passport was issued to (its `aud`). */
  tenantId: string;
  /**
   * The OIDC client id of the storefront app the user signed in to (`azp`): always one of the client ids
   * the shop registered with setStorefrontClients when it was issued.
   */
  authorizedParty: string;
  status: PassportUserStatus;
  /** What the identity provider said about the email address and phone number (false when it said nothing). */
  emailVerified: boolean;
  phoneNumberVerified: boolean;
  /** Purpose keys the user has an active consent to this shop for, sorted. */
  purposes: readonly string[];
  issuedAt: Date;
  expiresAt: Date;
  /** The passport's unique id (`jti`): remember it until `expiresAt` to refuse a replay. */
  id: string;
  issuer: string;
}

export type PassportErrorCode =
  /** Not a passport: malformed, bad signature, wrong `typ` or algorithm, missing or mistyped claims, not yet valid. */
  | 'PASSPORT_INVALID'
  | 'PASSPORT_EXPIRED'
  /** Issued to another shop. */
  | 'PASSPORT_AUDIENCE_MISMATCH'
  /** Issued by another platform than `issuer`. */
  | 'PASSPORT_ISSUER_MISMATCH'
  /** Signed with a key the key set does not hold. */
  | 'PASSPORT_KEY_UNKNOWN'
  /** The key set at `jwksUrl` could not be fetched: the passport was not checked (try again). */
  | 'PASSPORT_JWKS_UNAVAILABLE';

export class PassportError extends Error {
  override readonly name = 'PassportError';
  constructor(
    readonly code: PassportErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifyPassportOptions {
  /** The platform's public keys, e.g. https://privgraph.example/.well-known/jwks.json (fetched and cached) … */
  jwksUrl?: string | URL;
  /** … or the key set itself. */
  jwks?: JSONWebKeySet;
  /** The shop's tenant id: a passport issued to another shop is refused. */
  audience: string;
  /** The platform's issuer (PASSPORT_ISSUER; by default its public gateway URL or urn:privgraph:platform). Recommended. */
  issuer?: string;
  /** Leeway for exp/iat, in seconds or as "30s"; default 0. */
  clockTolerance?: number | string;
  /** The time to check against (tests); default now. */
  currentDate?: Date;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;
const remoteKeySets = new Map<string, KeySet>();

function keySetOf(options: VerifyPassportOptions): KeySet {
  if ((options.jwks === undefined) === (options.jwksUrl === undefined)) {
    throw new TypeError('verifyPassport needs exactly one of `jwks` and `jwksUrl`');
  }
  if (options.jwks) return createLocalJWKSet(options.jwks) as KeySet;
  const url = String(options.jwksUrl);
  let keySet = remoteKeySets.get(url);
  if (!keySet) {
    // One fetched key set per URL, kept between calls: jose caches it and refetches on an unknown kid.
    keySet = createRemoteJWKSet(new URL(url));
    remoteKeySets.set(url, keySet);
  }
  return keySet;
}

/**
 * Verifies a passport offline against the platform's public keys and returns who is signed in. Throws a
 * PassportError (with a code) for anything that is not a current passport issued to `audience`.
 */
export async function verifyPassport(token: string, options: VerifyPassportOptions): Promise<Passport> {
  if (typeof options.audience !== 'string' || options.audience.length === 0) throw new TypeError('verifyPassport needs the `audience` (your tenant id)');
  const keySet = keySetOf(options);
  if (typeof token !== 'string' || token.split('.').length !== 3) throw new PassportError('PASSPORT_INVALID', 'Not a compact JWS');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keySet, {
      algorithms: [PASSPORT_ALGORITHM],
      typ: PASSPORT_TYPE,
      audience: options.audience,
      issuer: options.issuer,
      clockTolerance: options.clockTolerance,
      currentDate: options.currentDate,
      requiredClaims: ['iss', 'sub', 'aud', 'iat', 'exp', 'jti'],
    }));
  } catch (error) {
    throw passportErrorOf(error);
  }
  return passportOf(payload, options.audience);
}

function passportErrorOf(error: unknown): PassportError {
  if (error instanceof joseErrors.JWTExpired) return new PassportError('PASSPORT_EXPIRED', 'The passport has expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return new PassportError('PASSPORT_AUDIENCE_MISMATCH', 'The passport was issued to another tenant');
    if (error.claim === 'iss') return new PassportError('PASSPORT_ISSUER_MISMATCH', 'The passport was issued by another issuer');
    if (error.claim === 'typ') return new PassportError('PASSPORT_INVALID', 'The token is not a passport (typ)');
    return new PassportError('PASSPORT_INVALID', `The passport's ${error.claim} claim is not valid`);
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) return new PassportError('PASSPORT_KEY_UNKNOWN', 'The passport was signed with an unknown key');
  // jose throws its base class itself only when the remote key set answers other than 200 or not JSON.
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || (error as object)?.constructor === joseErrors.JOSEError) {
    return new PassportError('PASSPORT_JWKS_UNAVAILABLE', 'The platform key set could not be loaded');
  }
  if (error instanceof joseErrors.JOSEError) return new PassportError('PASSPORT_INVALID', 'The passport does not verify');
  // A failed fetch of the key set (network) surfaces as a plain error from fetch.
  return new PassportError('PASSPORT_JWKS_UNAVAILABLE', 'The platform key set could not be loaded');
}

const STATUSES: readonly PassportUserStatus[] = ['ACTIVE', 'BLOCKED', 'ERASED'];

function passportOf(payload: JWTPayload, audience: string): Passport {
  const invalid = (claim: string) => new PassportError('PASSPORT_INVALID', `The passport's ${claim} claim is missing or mistyped`);
  const { sub, aud, iat, exp, jti, iss } = payload;
  const claims = payload as Record<string, unknown>;
  if (typeof sub !== 'string' || sub.length === 0) throw invalid('sub');
  // One audience, this shop: a passport shared between shops would let one shop replay it at another.
  if (aud !== audience) throw invalid('aud');
  if (typeof iss !== 'string' || iss.length === 0) throw invalid('iss');
  if (typeof claims.azp !== 'string' || claims.azp.length === 0) throw invalid('azp');
  if (typeof jti !== 'string' || jti.length === 0) throw invalid('jti');
  if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= iat) throw invalid('exp');
  if (typeof claims.status !== 'string' || !STATUSES.includes(claims.status as PassportUserStatus)) throw invalid('status');
  if (typeof claims.email_verified !== 'boolean') throw invalid('email_verified');
  if (typeof claims.phone_number_verified !== 'boolean') throw invalid('phone_number_verified');
  const purposes = claims.purposes;
  if (!Array.isArray(purposes) || !purposes.every((p): p is string => typeof p === 'string')) throw invalid('purposes');
  return {
    ref: sub,
    tenantId: aud,
    authorizedParty: claims.azp,
    status: claims.status as PassportUserStatus,
    emailVerified: claims.email_verified,
    phoneNumberVerified: claims.phone_number_verified,
    purposes: Object.freeze([...purposes]),
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    id: jti,
    issuer: iss,
  };
}
