import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { privgraphError, unauthenticated } from '../errors';

export type JwksSource = { kind: 'remote'; url: string } | { kind: 'local'; jwks: JSONWebKeySet };

export interface AuthSettings {
  issuer: string;
  audience: string;
  /** Pinned list; `none` and HMAC algorithms are rejected at config time. */
  algorithms: string[];
  jwks: JwksSource;
  /** Claim that names the tenant (IdP organization). Logto: `organization_id`. */
  tenantClaim: string;
  /** Claim with space-separated scopes (RFC 9068 §2.2.3). */
  scopeClaim: string;
  clockToleranceSec: number;
  /**
   * Require the `typ: at+jwt` header (RFC 9068 §4, RFC 8725 §3.11), so an ID token or any other JWT
   * with the right audience is refused. Off (AUTH_REQUIRE_AT_JWT=false) only for an IdP that omits it:
   * then a missing `typ` or `JWT` passes, any other explicit type is still refused.
   */
  requireAtJwt?: boolean;
}

export interface VerifiedToken {
  issuer: string;
  sub: string;
  clientId: string | undefined;
  organizationId: string | undefined;
  scopes: ReadonlySet<string>;
  /** OIDC `email_verified` / `phone_number_verified` as the IdP put them in the token; null unless a real boolean. */
  emailVerified: boolean | null;
  phoneNumberVerified: boolean | null;
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

/**
 * How long a key removed from the IdP's JWKS can still verify a token: the key set is refetched once
 * it is older than JWKS_MAX_AGE_MS (and sooner when a token names an unknown `kid`, at most every
 * JWKS_COOLDOWN_MS), and a token verified just before that is remembered for VERIFIED_TTL_MS.
 * Bound: JWKS_MAX_AGE_MS + VERIFIED_TTL_MS = 6 minutes (docs/security.md "Tokens").
 */
export const JWKS_MAX_AGE_MS = 300_000;
const JWKS_COOLDOWN_MS = 30_000;
const JWKS_TIMEOUT_MS = 5_000;
const VERIFIED_TTL_MS = 60_000;
export const KEY_REMOVAL_BOUND_MS = JWKS_MAX_AGE_MS + VERIFIED_TTL_MS;

/** The longest `sub` / client / organization id accepted; longer is no token from a real IdP. */
const MAX_CLAIM_LENGTH = 1024;
// PostgreSQL text cannot hold NUL: such an id could never be stored or looked up, so it is no valid name.
const NUL = /\u0000/;
const AT_JWT = 'at+jwt';

type KeyLookup = ReturnType<typeof createLocalJWKSet>;

/** The IdP's keys could not be had (refused, timed out, not a key set): no statement about the token. */
class KeysUnavailable extends Error {}

export function createTokenVerifier(settings: AuthSettings): TokenVerifier {
  const requireAtJwt = settings.requireAtJwt ?? true;
  const keys = settings.jwks.kind === 'remote' ? remoteKeys(settings.jwks.url) : createLocalJWKSet(settings.jwks.jwks);

  // A token's signature does not change: remember verified tokens until they expire (at most
  // VERIFIED_TTL_MS, so a key withdrawn from the JWKS stops being honoured within KEY_REMOVAL_BOUND_MS).
  const verified = new LRUCache<string, { token: VerifiedToken; expiresAtMs: number }>({ max: 10_000, ttl: VERIFIED_TTL_MS });

  return {
    async verify(token) {
      const cached = verified.get(token);
      if (cached && cached.expiresAtMs + settings.clockToleranceSec * 1000 > Date.now()) return cached.token;
      let payload: JWTPayload;
      let protectedHeader: JWTHeaderParameters;
      try {
        ({ payload, protectedHeader } = await jwtVerify(token, keys, {
          issuer: settings.issuer,
          audience: settings.audience,
          algorithms: settings.algorithms,
          clockTolerance: settings.clockToleranceSec,
          requiredClaims: ['sub', 'exp', 'iss', 'aud'],
        }));
      } catch (error) {
        if (error instanceof KeysUnavailable) {
          throw privgraphError('DEPENDENCY_UNAVAILABLE', "The token issuer's keys could not be fetched; try again shortly", { httpStatus: 503 });
        }
        throw unauthenticated(describeJoseError(error));
      }
      const problem = typeProblem(protectedHeader, requireAtJwt) ?? claimProblem(payload, settings);
      if (problem) throw unauthenticated(problem);
      const org = payload[settings.tenantClaim];
      const rawScopes = payload[settings.scopeClaim] as string | string[] | undefined;
      const scopes = new Set(typeof rawScopes === 'string' ? rawScopes.split(' ').filter(Boolean) : (rawScopes ?? []));
      const result: VerifiedToken = {
        issuer: payload.iss as string,
        sub: payload.sub as string,
        clientId: payload.client_id as string | undefined,
        organizationId: org as string | undefined,
        scopes,
        emailVerified: typeof payload.email_verified === 'boolean' ? payload.email_verified : null,
        phoneNumberVerified: typeof payload.phone_number_verified === 'boolean' ? payload.phone_number_verified : null,
      };
      verified.set(token, { token: result, expiresAtMs: (payload.exp as number) * 1000 });
      return result;
    },
  };
}

/** jose's remote key set, with every failure to obtain the keys told apart from a token the keys do not verify. */
function remoteKeys(url: string): KeyLookup {
  const remote = createRemoteJWKSet(new URL(url), {
    cacheMaxAge: JWKS_MAX_AGE_MS,
    cooldownDuration: JWKS_COOLDOWN_MS,
    timeoutDuration: JWKS_TIMEOUT_MS,
  });
  return (async (header: Parameters<KeyLookup>[0], token: Parameters<KeyLookup>[1]) => {
    try {
      return await remote(header, token);
    } catch (error) {
      // These are answers about the token (no key for its kid/alg), given from a key set that was fetched.
      if (
        error instanceof joseErrors.JWKSNoMatchingKey ||
        error instanceof joseErrors.JWKSMultipleMatchingKeys ||
        error instanceof joseErrors.JOSENotSupported ||
        error instanceof joseErrors.JOSEAlgNotAllowed
      ) {
        throw error;
      }
      throw new KeysUnavailable('jwks unavailable', { cause: error });
    }
  }) as KeyLookup;
}

/** RFC 9068 §4 / RFC 8725 §3.11: explicit typing, so one kind of JWT cannot stand in for another. */
function typeProblem(header: JWTHeaderParameters, requireAtJwt: boolean): string | undefined {
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : header.typ;
  if (typ === AT_JWT) return undefined;
  if (!requireAtJwt && (typ === undefined || typ === 'jwt')) return undefined;
  return 'The token is not an access token (its typ header must be at+jwt)';
}

const isClaimString = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_CLAIM_LENGTH && !NUL.test(value);
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/**
 * RFC 9068 §2.2 claim types, checked here because jose checks presence, not type (a numeric or null
 * `sub` would otherwise reach the directory). Messages name the claim, never its value.
 */
function claimProblem(payload: JWTPayload, settings: AuthSettings): string | undefined {
  const bad = (claim: string) => `The access token's ${claim} claim is missing or malformed`;
  if (!isClaimString(payload.sub)) return bad('sub');
  if (typeof payload.iss !== 'string') return bad('iss');
  if (!(typeof payload.aud === 'string' || (isStringArray(payload.aud) && payload.aud.length > 0))) return bad('aud');
  for (const claim of ['exp', 'iat', 'nbf'] as const) {
    const value = payload[claim];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value))) return bad(claim);
  }
  if (typeof payload.exp !== 'number') return bad('exp');
  // jose checks `iat` only with maxTokenAge: a token issued in the future is refused here.
  if (payload.iat !== undefined && payload.iat > Date.now() / 1000 + settings.clockToleranceSec) {
    return "The access token's iat claim is in the future";
  }
  const scope = payload[settings.scopeClaim];
  if (scope !== undefined && typeof scope !== 'string' && !isStringArray(scope)) return bad(settings.scopeClaim);
  if (settings.tenantClaim in payload && !isClaimString(payload[settings.tenantClaim])) return bad(settings.tenantClaim);
  if ('client_id' in payload && !isClaimString(payload.client_id)) return bad('client_id');
  return undefined;
}

/** A short, value-free reason: never echo claims back (they can contain personal data). */
function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The access token's ${error.claim} claim is not accepted`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "The access token's algorithm is not accepted";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "The access token's signature is invalid";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'The access token was signed by an unknown key';
  return 'The access token is malformed or invalid';
}

export function bearerToken(header: string | undefined): string | undefined | null {
  if (header === undefined || header === '') return undefined;
  const match = /^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)$/i.exec(header.trim());
  return match ? match[1] : null;
}
