import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { unauthenticated } from '../errors';

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

const VERIFIED_TTL_MS = 60_000;

export function createTokenVerifier(settings: AuthSettings): TokenVerifier {
  const keys =
    settings.jwks.kind === 'remote'
      ? createRemoteJWKSet(new URL(settings.jwks.url), { cooldownDuration: 30_000, timeoutDuration: 5_000 })
      : createLocalJWKSet(settings.jwks.jwks);

  // A token's signature does not change: remember verified tokens until they expire (at most
  // VERIFIED_TTL_MS, so a key withdrawn from the JWKS stops being honoured within that time).
  const verified = new LRUCache<string, { token: VerifiedToken; expiresAtMs: number }>({ max: 10_000, ttl: VERIFIED_TTL_MS });

  return {
    async verify(token) {
      const cached = verified.get(token);
      if (cached && cached.expiresAtMs + settings.clockToleranceSec * 1000 > Date.now()) return cached.token;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: settings.issuer,
          audience: settings.audience,
          algorithms: settings.algorithms,
          clockTolerance: settings.clockToleranceSec,
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (error) {
        throw unauthenticated(describeJoseError(error));
      }
      const org = payload[settings.tenantClaim];
      const rawScopes = payload[settings.scopeClaim];
      const scopes = new Set(
        typeof rawScopes === 'string'
          ? rawScopes.split(' ').filter(Boolean)
          : Array.isArray(rawScopes)
            ? rawScopes.filter((s): s is string => typeof s === 'string')
            : [],
      );
      const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
      const result: VerifiedToken = {
        issuer: payload.iss as string,
        sub: payload.sub as string,
        clientId,
        organizationId: typeof org === 'string' && org.length > 0 ? org : undefined,
        scopes,
        emailVerified: typeof payload.email_verified === 'boolean' ? payload.email_verified : null,
        phoneNumberVerified: typeof payload.phone_number_verified === 'boolean' ? payload.phone_number_verified : null,
      };
      verified.set(token, { token: result, expiresAtMs: (payload.exp as number) * 1000 });
      return result;
    },
  };
}

/** A short, value-free reason: never echo claims back (they can contain personal data). */
function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The access token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The access token's ${error.claim} claim is not accepted`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "The access token's algorithm is not accepted";
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "The access token's signature is invalid";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'The access token was signed by an unknown key';
  if (error instanceof joseErrors.JWKSTimeout) return 'The token issuer keys could not be fetched';
  return 'The access token is malformed or invalid';
}

export function bearerToken(header: string | undefined): string | undefined | null {
  if (header === undefined || header === '') return undefined;
  const match = /^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)$/i.exec(header.trim());
  return match ? match[1] : null;
}
