import { DependencyUnavailableError } from '../../../../shared/errors';

/**
 * A key-encryption key (KEK) held by a key provider. Data keys (DEKs) are wrapped under it and only
 * the wrapped form is stored. Wrapped keys are strings `<provider>:v<version>:<base64>` (Vault Transit's
 * own ciphertext format), so the version a DEK is wrapped under is readable without the provider.
 */
export interface KeyEncryptionKey {
  /** Stable name of the key, e.g. `local:pii-eu` or `vault:transit/privgraph-pii-eu`. */
  readonly keyId: string;
  readonly provider: KeyProviderKind;
  wrapMany(items: { dek: Buffer; context: string }[]): Promise<WrappedKey[]>;
  unwrapMany(items: { wrapped: string; context: string }[]): Promise<Buffer[]>;
  /** Re-encrypts wrapped keys under the newest version without the DEK leaving the provider (Vault) or memory (local). */
  rewrapMany(items: { wrapped: string; context: string }[]): Promise<WrappedKey[]>;
  status(): Promise<KeyStatus>;
  /** Creates a new version; new wraps use it at once, older versions still decrypt. */
  rotate(): Promise<KeyStatus>;
  /** Versions below `minDecryptionVersion` stop decrypting (the local keyring deletes their key material). */
  retire(minDecryptionVersion: number): Promise<KeyStatus>;
}

/** A per-region HMAC key for the blind index; never used for encryption. */
export interface IndexKey {
  digest(input: string): Promise<Buffer>;
}

export type KeyProviderKind = 'local' | 'vault';

export interface WrappedKey {
  wrapped: string;
  version: number;
}

export interface KeyStatus {
  latestVersion: number;
  minDecryptionVersion: number;
}

const WRAPPED_PATTERN = /^(local|vault):v(\d{1,9}):([A-Za-z0-9+/=]+)$/;

export function parseWrapped(wrapped: string): { provider: KeyProviderKind; version: number; body: string } {
  const match = WRAPPED_PATTERN.exec(wrapped);
  if (!match) throw new KeyIntegrityError('a wrapped data key is malformed');
  return { provider: match[1] as KeyProviderKind, version: Number(match[2]), body: match[3] };
}

/** The key provider cannot be used: unreachable, sealed, refusing our token, or answering nonsense. */
export class KeyServiceError extends DependencyUnavailableError {
  constructor(message: string) {
    super('keys', message);
    this.name = 'KeyServiceError';
  }
}

/** A data key is wrapped under a KEK version that has been retired (below min_decryption_version). */
export class KeyVersionRetiredError extends Error {
  constructor(readonly version: number) {
    super(`key version ${version} is retired`);
    this.name = 'KeyVersionRetiredError';
  }
}

/** A wrapped key or ciphertext failed authentication: tampered, moved, or under a destroyed key. */
export class KeyIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyIntegrityError';
  }
}
