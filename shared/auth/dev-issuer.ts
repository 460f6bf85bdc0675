import { createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet, type JWK } from 'jose';

/**
 * The development token issuer: an ES384 key (Logto's default algorithm) generated on first
 * start under the data directory. It exists so privgraph runs with one command; it is refused
 * whenever NODE_ENV=production (see config.ts and scripts/token.ts).
 */
export const DEV_ISSUER = 'urn:privgraph:dev-issuer';
export const DEV_AUDIENCE = 'https://api.privgraph.local';
export const DEV_ALGORITHM = 'ES384';
export const DEV_APP_CLIENT_ID = 'privgraph-dev-app';

export interface DevIssuerKey {
  kid: string;
  privateKey: KeyObject;
  jwks: JSONWebKeySet;
}

export function devIssuerKeyPath(dataDir: string): string {
  return join(dataDir, 'dev-issuer', 'private-key.jwk.json');
}

/** The public key set, written beside the private key so services verify without reading the secret. */
export function devIssuerJwksPath(dataDir: string): string {
  return join(dataDir, 'dev-issuer', 'jwks.json');
}

async function newPrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(DEV_ALGORITHM, { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: DEV_ALGORITHM };
}

/** An in-memory key (tests). */
export async function generateDevIssuerKey(): Promise<DevIssuerKey> {
  return fromPrivateJwk(await newPrivateJwk());
}

/** Loads the key, creating it exactly once (exclusive create, so concurrent starts agree on one key). */
export async function loadOrCreateDevIssuerKey(dataDir: string): Promise<DevIssuerKey> {
  const key = await loadOrCreatePrivateKey(dataDir);
  writeFileSync(devIssuerJwksPath(dataDir), JSON.stringify(key.jwks, null, 2), { mode: 0o644 });
  return key;
}

async function loadOrCreatePrivateKey(dataDir: string): Promise<DevIssuerKey> {
  const path = devIssuerKeyPath(dataDir);
  try {
    return fromPrivateJwk(JSON.parse(readFileSync(path, 'utf8')) as JWK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const jwk = await newPrivateJwk();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, JSON.stringify(jwk), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return fromPrivateJwk(JSON.parse(readFileSync(path, 'utf8')) as JWK);
  }
  return fromPrivateJwk(jwk);
}

function fromPrivateJwk(jwk: JWK): DevIssuerKey {
  const privateKey = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const kid = jwk.kid ?? 'dev';
  return { kid, privateKey, jwks: { keys: [{ ...publicJwk, kid, alg: DEV_ALGORITHM, use: 'sig' }] } };
}

export interface DevTokenClaims {
  sub: string;
  scopes?: string[];
  organizationId?: string;
  clientId?: string;
  ttlSeconds?: number;
  issuer?: string;
  audience?: string;
  /** OIDC verification claims, as an IdP puts them in a user's token (`email_verified`, `phone_number_verified`). */
  verified?: VerifiedClaims;
}

export interface VerifiedClaims {
  email?: boolean;
  phoneNumber?: boolean;
}

/** A subject token's claims beyond its name: the verification flags and the app it was issued to. */
export interface SubjectTokenOptions extends VerifiedClaims {
  /** `client_id`: the app the person signed in to (a shop's storefront app); default DEV_APP_CLIENT_ID. */
  clientId?: string;
}

/** An RFC 9068 access token shaped like Logto's. */
export async function mintDevToken(key: DevIssuerKey, claims: DevTokenClaims): Promise<string> {
  const payload: Record<string, unknown> = { client_id: claims.clientId ?? DEV_APP_CLIENT_ID };
  if (claims.scopes && claims.scopes.length > 0) payload.scope = claims.scopes.join(' ');
  if (claims.organizationId) payload.organization_id = claims.organizationId;
  if (claims.verified?.email !== undefined) payload.email_verified = claims.verified.email;
  if (claims.verified?.phoneNumber !== undefined) payload.phone_number_verified = claims.verified.phoneNumber;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: DEV_ALGORITHM, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(claims.issuer ?? DEV_ISSUER)
    .setAudience(claims.audience ?? DEV_AUDIENCE)
    .setSubject(claims.sub)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds ?? 3600}s`)
    .sign(key.privateKey);
}

/** Token shapes for each kind of principal, as `npm run token` prints them. */
export const devTokens = {
  admin: (key: DevIssuerKey, ttlSeconds?: number) =>
    mintDevToken(key, { sub: 'platform-admin', clientId: 'platform-admin', scopes: ['platform:admin'], ttlSeconds }),
  subject: (key: DevIssuerKey, name: string, ttlSeconds?: number, options?: SubjectTokenOptions) =>
    mintDevToken(key, { sub: name, clientId: options?.clientId, scopes: ['openid', 'profile'], ttlSeconds, verified: options }),
  tenant: (key: DevIssuerKey, tenantId: string, scopes: string[], ttlSeconds?: number) =>
    mintDevToken(key, {
      sub: `tenant-client-${tenantId}`,
      clientId: `tenant-client-${tenantId}`,
      organizationId: tenantId,
      scopes,
      ttlSeconds,
    }),
  /** A staff user's organization token (Logto: a user's token for the organization): `sub` is the user, not the client. */
  member: (key: DevIssuerKey, tenantId: string, user: string, scopes: string[], ttlSeconds?: number) =>
    mintDevToken(key, { sub: user, clientId: DEV_APP_CLIENT_ID, organizationId: tenantId, scopes, ttlSeconds }),
};
