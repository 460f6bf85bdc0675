import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dekAad, fieldAad, open, seal } from './crypto';
import { createLocalKeyring } from './key-provider';

describe('AES-256-GCM sealing', () => {
  const key = randomBytes(32);

  test('round-trips and never repeats a ciphertext for the same plaintext', () => {
    const a = seal(key, Buffer.from('alice@example.com'), fieldAad('s1', 'email'));
    const b = seal(key, Buffer.from('alice@example.com'), fieldAad('s1', 'email'));
    expect(a.equals(b)).toBe(false);
    expect(open(key, a, fieldAad('s1', 'email')).toString()).toBe('alice@example.com');
  });

  test('a ciphertext fails under another subject, another field, a flipped bit or another key', () => {
    const sealed = seal(key, Buffer.from('secret'), fieldAad('s1', 'email'));
    expect(() => open(key, sealed, fieldAad('s2', 'email'))).toThrow();
    expect(() => open(key, sealed, fieldAad('s1', 'phone'))).toThrow();
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] ^= 1;
    expect(() => open(key, flipped, fieldAad('s1', 'email'))).toThrow();
    expect(() => open(randomBytes(32), sealed, fieldAad('s1', 'email'))).toThrow();
  });
});

describe('local keyring', () => {
  test('is created once with mode 0600 and unwraps what it wrapped, for the same subject only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privgraph-keyring-'));
    try {
      const path = join(dir, 'keyring.json');
      const keyring = createLocalKeyring(path);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const dek = randomBytes(32);
      const { wrapped, kekId } = await keyring.wrap(dek, dekAad('s1'));
      expect(kekId).toBe('local:v1');
      const reopened = createLocalKeyring(path);
      expect((await reopened.unwrap(wrapped, kekId, dekAad('s1'))).equals(dek)).toBe(true);
      await expect(reopened.unwrap(wrapped, kekId, dekAad('s2'))).rejects.toThrow();
      await expect(reopened.unwrap(wrapped, 'local:v9', dekAad('s1'))).rejects.toThrow(/unknown/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
