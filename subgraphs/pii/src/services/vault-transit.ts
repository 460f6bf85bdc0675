import { z } from 'zod';
import {
  KeyIntegrityError,
  KeyServiceError,
  KeyVersionRetiredError,
  parseWrapped,
  type IndexKey,
  type KeyEncryptionKey,
  type KeyStatus,
  type WrappedKey,
} from './key-provider';

/**
 * HashiCorp Vault's Transit secrets engine over its HTTP API (developer.hashicorp.com/vault/api-docs/secret/transit).
 * Data keys are wrapped with `encrypt`, unwrapped with `decrypt` and moved to the newest key version with
 * `rewrap`, always in `batch_input` form so a page of users costs one round trip. The KEK never leaves Vault.
 * Vault's `rewrap` takes no associated data, so wraps carry none here: a data key is bound to its
 * subject by the AAD of every field it encrypts (a DEK moved to another subject opens nothing).
 */
export interface VaultSettings {
  address: string;
  token: string;
  namespace?: string;
  mount: string;
  timeoutMs: number;
}

const errorBody = z.object({ errors: z.array(z.string()) });
const wrappedString = z.string().regex(/^vault:v\d{1,9}:[A-Za-z0-9+/=]+$/);
const batchItem = <T extends z.ZodType>(item: T) => z.union([item, z.object({ error: z.string().min(1) })]);
const batchOf = <T extends z.ZodType>(item: T) => z.object({ data: z.object({ batch_results: z.array(batchItem(item)) }) });
const ciphertextBatch = batchOf(z.object({ ciphertext: wrappedString, key_version: z.number().int().positive().optional() }));
const plaintextBatch = batchOf(z.object({ plaintext: z.string() }));
const keyInfo = z.object({
  data: z.object({
    latest_version: z.number().int().positive(),
    min_decryption_version: z.number().int().nonnegative(),
    keys: z.record(z.string(), z.unknown()),
  }),
});
const hmacResponse = z.object({ data: z.object({ hmac: z.string().regex(/^vault:v\d+:[A-Za-z0-9+/=]+$/) }) });

const TOO_OLD = /disallowed by policy \(too old\)/i;

export function createVaultTransitKek(settings: VaultSettings, keyName: string): KeyEncryptionKey {
  const client = vaultClient(settings);
  const ensureKey = client.ensureKey(keyName);

  /** Per-item results of a batch; an item Vault refused as "too old" names the retired version. */
  const results = <I extends object, T>(batch: (I | { error: string })[], inputs: { wrapped?: string }[], build: (item: I) => T): T[] => {
    if (batch.length !== inputs.length) throw new KeyServiceError('Vault answered a batch of the wrong size');
    return batch.map((item, index) => {
      if ('error' in item && typeof item.error === 'string') {
        const wrapped = inputs[index].wrapped;
        if (TOO_OLD.test(item.error)) throw new KeyVersionRetiredError(wrapped ? parseWrapped(wrapped).version : 0);
        throw new KeyIntegrityError('Vault refused to decrypt a wrapped data key');
      }
      return build(item as I);
    });
  };
  const toWrapped = (ciphertext: string): WrappedKey => ({ wrapped: ciphertext, version: parseWrapped(ciphertext).version });
  const checkVaultCiphertexts = (items: { wrapped: string }[]) => {
    for (const { wrapped } of items) {
      if (parseWrapped(wrapped).provider !== 'vault') throw new KeyIntegrityError('a data key was wrapped by another key provider');
    }
  };

  return {
    keyId: `vault:${settings.mount}/${keyName}`,
    provider: 'vault',
    async wrapMany(items) {
      if (items.length === 0) return [];
      await ensureKey();
      const body = await client.call('POST', `encrypt/${keyName}`, { batch_input: items.map(({ dek }) => ({ plaintext: dek.toString('base64') })) }, ciphertextBatch);
      return results(body.data.batch_results, items.map(() => ({})), (item) => toWrapped(item.ciphertext));
    },
    async unwrapMany(items) {
      if (items.length === 0) return [];
      checkVaultCiphertexts(items);
      const body = await client.call('POST', `decrypt/${keyName}`, { batch_input: items.map(({ wrapped }) => ({ ciphertext: wrapped })) }, plaintextBatch, true);
      return results(body.data.batch_results, items, (item) => {
        const dek = Buffer.from(item.plaintext, 'base64');
        if (dek.length !== 32) throw new KeyServiceError('Vault returned a data key of the wrong length');
        return dek;
      });
    },
    async rewrapMany(items) {
      if (items.length === 0) return [];
      checkVaultCiphertexts(items);
      const body = await client.call('POST', `rewrap/${keyName}`, { batch_input: items.map(({ wrapped }) => ({ ciphertext: wrapped })) }, ciphertextBatch, true);
      return results(body.data.batch_results, items, (item) => toWrapped(item.ciphertext));
    },
    async status() {
      await ensureKey();
      return client.keyStatus(keyName);
    },
    async rotate() {
      await ensureKey();
      await client.call('POST', `keys/${keyName}/rotate`, {}, z.unknown());
      return client.keyStatus(keyName);
    },
    async retire(minDecryptionVersion) {
      await ensureKey();
      await client.call('POST', `keys/${keyName}/config`, { min_decryption_version: minDecryptionVersion }, z.unknown());
      return client.keyStatus(keyName);
    },
  };
}

/** The blind-index key: Transit's `hmac` endpoint, pinned to version 1 so digests stay comparable. */
export function createVaultTransitIndexKey(settings: VaultSettings, keyName: string): IndexKey {
  const client = vaultClient(settings);
  const ensureKey = client.ensureKey(keyName);
  return {
    async digest(input) {
      await ensureKey();
      const body = await client.call(
        'POST',
        `hmac/${keyName}/sha2-256`,
        { input: Buffer.from(input, 'utf8').toString('base64'), key_version: 1 },
        hmacResponse,
      );
      return Buffer.from(body.data.hmac.replace(/^vault:v\d+:/, ''), 'base64');
    },
  };
}

function vaultClient(settings: VaultSettings) {
  const base = `${settings.address.replace(/\/+$/, '')}/v1/${settings.mount}`;

  async function call<T extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    payload: unknown,
    schema: T,
    batchErrorsAreResults = false,
  ): Promise<z.infer<T>> {
    const headers: Record<string, string> = { 'x-vault-token': settings.token, 'content-type': 'application/json' };
    if (settings.namespace) headers['x-vault-namespace'] = settings.namespace;
    let response: Response;
    try {
      response = await fetch(`${base}/${path}`, {
        method,
        headers,
        body: method === 'POST' ? JSON.stringify(payload) : undefined,
        signal: AbortSignal.timeout(settings.timeoutMs),
      });
    } catch {
      throw new KeyServiceError('Vault is unreachable');
    }
    const text = await response.text().catch(() => '');
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new KeyServiceError(`Vault answered ${response.status} with a body that is not JSON`);
    }
    // A batch with item errors answers 400 but carries per-item results; anything else non-2xx is a failure.
    if (!response.ok && !(batchErrorsAreResults && response.status === 400 && schema.safeParse(json).success)) {
      const errors = errorBody.safeParse(json);
      const first = errors.success ? (errors.data.errors[0] ?? '') : '';
      if (response.status === 503 && /sealed/i.test(first)) throw new KeyServiceError('Vault is sealed');
      if (response.status === 403) throw new KeyServiceError('Vault refused the token (permission denied)');
      if (TOO_OLD.test(first)) throw new KeyVersionRetiredError(0);
      throw new KeyServiceError(`Vault answered ${response.status}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new KeyServiceError('Vault answered with an unexpected response shape');
    return parsed.data;
  }

  async function keyStatus(keyName: string): Promise<KeyStatus> {
    const body = await call('GET', `keys/${keyName}`, undefined, keyInfo);
    return { latestVersion: body.data.latest_version, minDecryptionVersion: Math.max(1, body.data.min_decryption_version) };
  }

  /** Creates the named key on first use (idempotent: an existing key is left as it is). */
  function ensureKey(keyName: string) {
    let ready: Promise<void> | undefined;
    return () => {
      ready ??= (async () => {
        try {
          await keyStatus(keyName);
        } catch (error) {
          if (!(error instanceof KeyServiceError) || !/answered 404/.test(error.message)) throw error;
          await call('POST', `keys/${keyName}`, { type: 'aes256-gcm96' }, z.unknown());
        }
      })().catch((error) => {
        ready = undefined;
        throw error;
      });
      return ready;
    };
  }

  return { call, keyStatus, ensureKey };
}
