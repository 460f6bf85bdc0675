import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { open, seal } from './crypto';
import {
  KeyIntegrityError,
  KeyVersionRetiredError,
  parseWrapped,
  type IndexKey,
  type KeyEncryptionKey,
  type KeyStatus,
  type WrappedKey,
} from './key-provider';

/**
 * The local keyring: named, versioned 256-bit keys in one JSON file (mode 0600, directory 0700),
 * created on first start. Each region has a KEK (`pii-<region>`) and a separate blind-index key
 * (`index-<region>`). Retiring versions deletes their key material from the file, so anything still
 * wrapped under them (including copies in backups of the database) can no longer be unwrapped.
 * Meant for development and single-host installs; production uses Vault Transit.
 */
interface KeyringFile {
  format: 2;
  keys: Record<string, NamedKey>;
}

interface NamedKey {
  minDecryptionVersion: number;
  versions: Record<string, { key: string; createdAt: string }>;
}

export interface LocalKeyring {
  kek(name: string): KeyEncryptionKey;
  indexKey(name: string): IndexKey;
}

const keyrings = new Map<string, LocalKeyring>();

/** One instance per file in a process, so rotations made through one KEK are seen by all. */
export function openLocalKeyring(path: string): LocalKeyring {
  let keyring = keyrings.get(path);
  if (!keyring) {
    keyring = createLocalKeyring(path);
    keyrings.set(path, keyring);
  }
  return keyring;
}

function createLocalKeyring(path: string): LocalKeyring {
  let file = loadOrCreate(path);

  /** Another process may have rotated: re-read the file before giving up on a version. */
  const reload = () => {
    file = readKeyring(path) ?? file;
  };
  const persist = (update: (current: KeyringFile) => void) => {
    const current = readKeyring(path) ?? file;
    update(current);
    writeAtomically(path, current);
    file = current;
  };
  const ensure = (name: string): NamedKey => {
    if (!file.keys[name]) {
      persist((current) => {
        current.keys[name] ??= { minDecryptionVersion: 1, versions: { '1': freshVersion() } };
      });
    }
    return file.keys[name];
  };
  const latest = (named: NamedKey) => Math.max(...Object.keys(named.versions).map(Number));
  const keyAt = (name: string, version: number): Buffer => {
    let named = ensure(name);
    if (version < named.minDecryptionVersion) throw new KeyVersionRetiredError(version);
    if (!named.versions[version]) {
      reload();
      named = ensure(name);
    }
    if (version < named.minDecryptionVersion) throw new KeyVersionRetiredError(version);
    const entry = named.versions[version];
    if (!entry) throw new KeyIntegrityError('a data key is wrapped under an unknown key version');
    return Buffer.from(entry.key, 'base64');
  };
  const statusOf = (name: string): KeyStatus => {
    const named = ensure(name);
    return { latestVersion: latest(named), minDecryptionVersion: named.minDecryptionVersion };
  };

  return {
    kek(name) {
      ensure(name);
      const wrapOne = (dek: Buffer, context: string): WrappedKey => {
        const version = latest(ensure(name));
        return { wrapped: `local:v${version}:${seal(keyAt(name, version), dek, context).toString('base64')}`, version };
      };
      const unwrapOne = (wrapped: string, context: string): Buffer => {
        const parsed = parseWrapped(wrapped);
        if (parsed.provider !== 'local') throw new KeyIntegrityError('a data key was wrapped by another key provider');
        const kek = keyAt(name, parsed.version);
        try {
          return open(kek, Buffer.from(parsed.body, 'base64'), context);
        } catch {
          throw new KeyIntegrityError('a wrapped data key failed authentication');
        }
      };
      return {
        keyId: `local:${name}`,
        provider: 'local',
        wrapMany: async (items) => items.map(({ dek, context }) => wrapOne(dek, context)),
        unwrapMany: async (items) => items.map(({ wrapped, context }) => unwrapOne(wrapped, context)),
        rewrapMany: async (items) => items.map(({ wrapped, context }) => wrapOne(unwrapOne(wrapped, context), context)),
        status: async () => statusOf(name),
        async rotate() {
          persist((current) => {
            const named = current.keys[name];
            named.versions[String(latest(named) + 1)] = freshVersion();
          });
          return statusOf(name);
        },
        async retire(minDecryptionVersion) {
          persist((current) => {
            const named = current.keys[name];
            if (minDecryptionVersion > latest(named)) throw new RangeError('cannot retire the latest key version');
            named.minDecryptionVersion = Math.max(named.minDecryptionVersion, minDecryptionVersion);
            for (const version of Object.keys(named.versions)) {
              if (Number(version) < named.minDecryptionVersion) delete named.versions[version];
            }
          });
          return statusOf(name);
        },
      };
    },
    indexKey(name) {
      const key = keyAt(name, 1);
      return { digest: async (input) => createHmac('sha256', key).update(input, 'utf8').digest() };
    },
  };
}

const freshVersion = () => ({ key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() });

function readKeyring(path: string): KeyringFile | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`keyring ${path} is not readable JSON`);
  }
  const candidate = parsed as Partial<KeyringFile> & { active?: unknown };
  if (candidate.format === undefined && typeof candidate.active === 'number') {
    // privgraph 0.1's single-key file: its keys protected only the pre-region store, which a
    // migration has removed (it refuses to if that store still held data). Keep it aside, start afresh.
    renameSync(path, `${path}.v1.bak`);
    return undefined;
  }
  if (candidate.format !== 2 || typeof candidate.keys !== 'object' || candidate.keys === null) {
    throw new Error(`keyring ${path} is not a privgraph keyring (format 2)`);
  }
  return candidate as KeyringFile;
}

function loadOrCreate(path: string): KeyringFile {
  const existing = readKeyring(path);
  if (existing) return existing;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fresh: KeyringFile = { format: 2, keys: {} };
  try {
    writeFileSync(path, JSON.stringify(fresh, null, 2), { flag: 'wx', mode: 0o600 });
    chmodSync(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readKeyring(path) ?? fresh;
  }
  return fresh;
}

/** Write to a sibling file and rename, so a crash never leaves a half-written keyring. */
function writeAtomically(path: string, file: KeyringFile) {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, JSON.stringify(file, null, 2), { mode: 0o600 });
  renameSync(temporary, path);
}
