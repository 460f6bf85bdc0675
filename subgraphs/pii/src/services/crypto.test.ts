import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dekAad, fieldAad, open, seal } from './crypto';
import { KeyIntegrityError, KeyVersionRetiredError } from './key-provider';
import { openLocalKeyring } from './local-keyring';

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
  const withKeyring = async (run: (path: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'privgraph-keyring-'));
    try {
      await run(join(dir, 'keyring.json'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test('is created with mode 0600 and unwraps what it wrapped, for the same subject only', () =>
    withKeyring(async (path) => {
      const kek = openLocalKeyring(path).kek('pii-eu');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const dek = randomBytes(32);
      const [wrapped] = await kek.wrapMany([{ dek, context: dekAad('s1') }]);
      expect(wrapped.wrapped).toMatch(/^local:v1:/);
      expect((await kek.unwrapMany([{ wrapped: wrapped.wrapped, context: dekAad('s1') }]))[0].equals(dek)).toBe(true);
      await expect(kek.unwrapMany([{ wrapped: wrapped.wrapped, context: dekAad('s2') }])).rejects.toThrow(KeyIntegrityError);
      // Each region's KEK is its own key.
      await expect(openLocalKeyring(path).kek('pii-us').unwrapMany([{ wrapped: wrapped.wrapped, context: dekAad('s1') }])).rejects.toThrow(KeyIntegrityError);
    }));

  test('rotates, re-wraps to the newest version and, once retired, destroys the old key material', () =>
    withKeyring(async (path) => {
      const kek = openLocalKeyring(path).kek('pii-eu');
      const dek = randomBytes(32);
      const [v1] = await kek.wrapMany([{ dek, context: dekAad('s1') }]);
      expect(await kek.rotate()).toEqual({ latestVersion: 2, minDecryptionVersion: 1 });
      const [v2] = await kek.rewrapMany([{ wrapped: v1.wrapped, context: dekAad('s1') }]);
      expect(v2.version).toBe(2);
      expect((await kek.unwrapMany([{ wrapped: v1.wrapped, context: dekAad('s1') }]))[0].equals(dek)).toBe(true);
      await kek.retire(2);
      await expect(kek.unwrapMany([{ wrapped: v1.wrapped, context: dekAad('s1') }])).rejects.toThrow(KeyVersionRetiredError);
      expect((await kek.unwrapMany([{ wrapped: v2.wrapped, context: dekAad('s1') }]))[0].equals(dek)).toBe(true);
      const file = JSON.parse(readFileSync(path, 'utf8'));
      expect(Object.keys(file.keys['pii-eu'].versions)).toEqual(['2']);
    }));
});
