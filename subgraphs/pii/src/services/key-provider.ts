import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { open, seal } from './crypto';

/** Wraps and unwraps data keys with a key-encryption key (KEK) the database never sees. */
export interface KeyProvider {
  wrap(dek: Buffer, context: string): Promise<{ wrapped: Buffer; kekId: string }>;
  unwrap(wrapped: Buffer, kekId: string, context: string): Promise<Buffer>;
}

interface KeyringFile {
  active: number;
  keys: { version: number; key: string; createdAt: string }[];
}

/**
 * The local keyring: versioned 256-bit KEKs in a JSON file (mode 0600) created on first start.
 * Meant for development and single-host installs; production uses a key manager.
 */
export function createLocalKeyring(path: string): KeyProvider {
  const keyring = loadOrCreateKeyring(path);
  const keys = new Map(keyring.keys.map((k) => [`local:v${k.version}`, Buffer.from(k.key, 'base64')]));
  const activeId = `local:v${keyring.active}`;
  const activeKey = keys.get(activeId);
  if (!activeKey || activeKey.length !== 32) throw new Error(`keyring ${path} has no valid active key`);
  return {
    async wrap(dek, context) {
      return { wrapped: seal(activeKey, dek, context), kekId: activeId };
    },
    async unwrap(wrapped, kekId, context) {
      const kek = keys.get(kekId);
      if (!kek) throw new Error('unknown key-encryption key');
      return open(kek, wrapped, context);
    },
  };
}

function loadOrCreateKeyring(path: string): KeyringFile {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as KeyringFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fresh: KeyringFile = { active: 1, keys: [{ version: 1, key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() }] };
  try {
    writeFileSync(path, JSON.stringify(fresh, null, 2), { flag: 'wx', mode: 0o600 });
    chmodSync(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return JSON.parse(readFileSync(path, 'utf8')) as KeyringFile;
  }
  return fresh;
}
