import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, CompactSign, compactVerify, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';

/**
 * The platform's signing key (ES256): it signs audit checkpoints and consent receipts so a
 * third party can verify them offline with the public key. Outside production it is generated once
 * under the data directory (mode 0600); in production it comes from PLATFORM_SIGNING_KEY_FILE.
 */
export const SIGNING_ALGORITHM = 'ES256';
/** Where the public key set is published (the gateway for clients; the audit service inside). */
export const JWKS_PATH = '/.well-known/jwks.json';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject | CryptoKey;
  publicJwk: JWK;
}

export function devSigningKeyPath(dataDir: string): string {
  return join(dataDir, 'secrets', 'platform-signing-key.jwk.json');
}

export async function loadSigningKey(path: string, options: { create: boolean }): Promise<SigningKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(path, 'utf8')) as JWK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !options.create) {
      throw new Error(`the platform signing key ${path} is missing or unreadable`);
    }
    const { privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
    const fresh = { ...(await exportJWK(privateKey)), alg: SIGNING_ALGORITHM };
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // Written whole to a temporary file, then linked into place: link() fails if another process
    // (a second service starting at the same moment) won, and nobody ever reads a half-written key.
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(fresh), { mode: 0o600 });
    try {
      linkSync(temporary, path);
    } catch (linkError) {
      if ((linkError as NodeJS.ErrnoException).code !== 'EEXIST') throw linkError;
    } finally {
      unlinkSync(temporary);
    }
    jwk = JSON.parse(readFileSync(path, 'utf8')) as JWK;
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d) throw new Error(`the platform signing key ${path} is not a private P-256 JWK`);
  const { d: _d, ...publicPart } = jwk;
  const kid = await calculateJwkThumbprint(publicPart);
  const publicJwk: JWK = { kty: publicPart.kty, crv: publicPart.crv, x: publicPart.x, y: publicPart.y, alg: SIGNING_ALGORITHM, use: 'sig', kid };
  return { kid, privateKey: await importJWK({ ...jwk, alg: SIGNING_ALGORITHM }, SIGNING_ALGORITHM) as KeyObject | CryptoKey, publicJwk };
}

/**
 * A JSON document signed with the platform key as a compact JWS whose `typ` names the kind of document
 * (checkpoint, purge record, consent receipt), so one kind can never pass for another.
 */
export function signDocument(key: SigningKey, typ: string, document: unknown): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(document)))
    .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: key.kid, typ })
    .sign(key.privateKey);
}

/** The document, if the JWS verifies with the public key and is of this kind; null otherwise. */
export async function openDocument(publicJwk: JWK, typ: string, jws: string): Promise<unknown> {
  try {
    const { payload, protectedHeader } = await compactVerify(jws, await importJWK(publicJwk, SIGNING_ALGORITHM), { algorithms: [SIGNING_ALGORITHM] });
    return protectedHeader.typ === typ ? (JSON.parse(new TextDecoder().decode(payload)) as unknown) : null;
  } catch {
    return null;
  }
}
