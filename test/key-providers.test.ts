import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dekAad } from '../subgraphs/pii/src/services/crypto';
import { KeyIntegrityError, KeyServiceError, KeyVersionRetiredError, type IndexKey, type KeyEncryptionKey } from '../subgraphs/pii/src/services/key-provider';
import { openLocalKeyring } from '../subgraphs/pii/src/services/local-keyring';
import { createVaultTransitIndexKey, createVaultTransitKek, type VaultSettings } from '../subgraphs/pii/src/services/vault-transit';
import { startVaultTransitDouble, type VaultTransitDouble } from './kit/vault-transit-double';

/**
 * Both key providers pass the same contract. The vault provider runs against the in-repo Transit
 * double, or against a real Vault when VAULT_ADDR and VAULT_TOKEN are set (with the transit engine
 * mounted at VAULT_TRANSIT_MOUNT, default "transit"); the fault cases need the double.
 */
const realVault = process.env.VAULT_ADDR && process.env.VAULT_TOKEN ? { address: process.env.VAULT_ADDR, token: process.env.VAULT_TOKEN } : null;

let double: VaultTransitDouble | undefined;
let dir: string;
let vaultSettings: VaultSettings;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'privgraph-keys-'));
  double = realVault ? undefined : await startVaultTransitDouble();
  vaultSettings = {
    address: realVault?.address ?? (double as VaultTransitDouble).address,
    token: realVault?.token ?? (double as VaultTransitDouble).token,
    mount: process.env.VAULT_TRANSIT_MOUNT ?? 'transit',
    timeoutMs: 2000,
  };
});
afterAll(async () => {
  await double?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const unique = () => `test-${randomBytes(4).toString('hex')}`;
const providers: [string, () => { kek: KeyEncryptionKey; index: IndexKey; otherIndex: IndexKey }][] = [
  ['local', () => {
    const keyring = openLocalKeyring(join(dir, 'keyring.json'));
    const name = unique();
    return { kek: keyring.kek(`pii-${name}`), index: keyring.indexKey(`index-${name}`), otherIndex: keyring.indexKey(`index-other-${name}`) };
  }],
  ['vault', () => {
    const name = unique();
    return {
      kek: createVaultTransitKek(vaultSettings, `pii-${name}`),
      index: createVaultTransitIndexKey(vaultSettings, `index-${name}`),
      otherIndex: createVaultTransitIndexKey(vaultSettings, `index-other-${name}`),
    };
  }],
];

describe.each(providers)('%s key provider', (provider, make) => {
  test('wraps and unwraps batches; a wrapped key names its KEK version', async () => {
    const { kek } = make();
    const deks = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const wrapped = await kek.wrapMany(deks.map((dek, i) => ({ dek, context: dekAad(`s${i}`) })));
    expect(wrapped.map((w) => w.version)).toEqual([1, 1, 1]);
    for (const w of wrapped) expect(w.wrapped).toMatch(new RegExp(`^${provider}:v1:`));
    const unwrapped = await kek.unwrapMany(wrapped.map((w, i) => ({ wrapped: w.wrapped, context: dekAad(`s${i}`) })));
    unwrapped.forEach((dek, i) => expect(dek.equals(deks[i])).toBe(true));
    expect(JSON.stringify(wrapped)).not.toContain(deks[0].toString('base64'));
  });

  test('rotation: new wraps use the new version, old ones still open, rewrap moves them, retiring cuts the old version off', async () => {
    const { kek } = make();
    const dek = randomBytes(32);
    const [v1] = await kek.wrapMany([{ dek, context: dekAad('s') }]);
    expect(await kek.rotate()).toEqual({ latestVersion: 2, minDecryptionVersion: 1 });
    const [fresh] = await kek.wrapMany([{ dek, context: dekAad('s') }]);
    expect(fresh.version).toBe(2);
    const [v2] = await kek.rewrapMany([{ wrapped: v1.wrapped, context: dekAad('s') }]);
    expect(v2.version).toBe(2);
    expect((await kek.status()).minDecryptionVersion).toBe(1);
    expect(await kek.retire(2)).toEqual({ latestVersion: 2, minDecryptionVersion: 2 });
    await expect(kek.unwrapMany([{ wrapped: v1.wrapped, context: dekAad('s') }])).rejects.toBeInstanceOf(KeyVersionRetiredError);
    expect((await kek.unwrapMany([{ wrapped: v2.wrapped, context: dekAad('s') }]))[0].equals(dek)).toBe(true);
  });

  test('a tampered wrapped key does not open', async () => {
    const { kek } = make();
    const [w] = await kek.wrapMany([{ dek: randomBytes(32), context: dekAad('s') }]);
    const body = Buffer.from(w.wrapped.split(':')[2], 'base64');
    body[body.length - 1] ^= 1;
    const tampered = `${w.wrapped.split(':').slice(0, 2).join(':')}:${body.toString('base64')}`;
    await expect(kek.unwrapMany([{ wrapped: tampered, context: dekAad('s') }])).rejects.toBeInstanceOf(KeyIntegrityError);
  });

  test('blind-index digests are deterministic per key and differ between keys', async () => {
    const { index, otherIndex } = make();
    const a = await index.digest('email:alice@example.com');
    expect(a.equals(await index.digest('email:alice@example.com'))).toBe(true);
    expect(a.equals(await index.digest('email:bob@example.com'))).toBe(false);
    expect(a.equals(await otherIndex.digest('email:alice@example.com'))).toBe(false);
  });
});

(realVault ? describe.skip : describe)('vault key provider faults (Transit double)', () => {
  const kekOf = (settings: Partial<VaultSettings> = {}) => createVaultTransitKek({ ...vaultSettings, ...settings }, unique());

  test('a page of keys costs one round trip', async () => {
    const kek = kekOf();
    const wrapped = await kek.wrapMany(Array.from({ length: 50 }, (_, i) => ({ dek: randomBytes(32), context: dekAad(`s${i}`) })));
    const before = double?.calls.get('decrypt') ?? 0;
    await kek.unwrapMany(wrapped.map((w, i) => ({ wrapped: w.wrapped, context: dekAad(`s${i}`) })));
    expect((double?.calls.get('decrypt') ?? 0) - before).toBe(1);
  });

  test.each([
    ['sealed', /sealed/],
    ['unreachable', /unreachable/],
    ['malformed', /unexpected response shape/],
  ] as const)('Vault %s gives a KeyServiceError naming the cause', async (fault, message) => {
    const kek = kekOf();
    const [w] = await kek.wrapMany([{ dek: randomBytes(32), context: dekAad('s') }]);
    double?.setFault(fault);
    try {
      const failure = await kek.unwrapMany([{ wrapped: w.wrapped, context: dekAad('s') }]).catch((e) => e);
      expect(failure).toBeInstanceOf(KeyServiceError);
      expect(failure.message).toMatch(message);
      expect(failure.message).not.toContain(w.wrapped);
    } finally {
      double?.setFault(null);
    }
  });

  test('a wrong token is refused as permission denied', async () => {
    const failure = await kekOf({ token: 'hvs.wrong' }).status().catch((e) => e);
    expect(failure).toBeInstanceOf(KeyServiceError);
    expect(failure.message).toMatch(/permission denied/);
  });

  test('an unreachable address fails within the timeout', async () => {
    const failure = await kekOf({ address: 'http://127.0.0.1:9', timeoutMs: 500 }).status().catch((e) => e);
    expect(failure).toBeInstanceOf(KeyServiceError);
  });
});
