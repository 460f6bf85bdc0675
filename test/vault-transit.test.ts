import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, expectNoErrors, PROFILE, subjectIdByEmail } from './kit/scenario';
import { startVaultTransitDouble, type VaultTransitDouble } from './kit/vault-transit-double';

/**
 * The graph on the vault key provider: each region with its own Vault (two Transit doubles here).
 * The data-key cache is off so every read reaches Vault and its faults show.
 */
describe('PII vault on Vault Transit, one Vault per region', () => {
  let stack: TestStack;
  let euVault: VaultTransitDouble;
  let usVault: VaultTransitDouble;

  beforeAll(async () => {
    euVault = await startVaultTransitDouble();
    usVault = await startVaultTransitDouble();
    stack = await startTestStack({
      env: {
        KEY_PROVIDER: 'vault',
        PII_EU_VAULT_ADDR: euVault.address,
        PII_EU_VAULT_TOKEN: euVault.token,
        PII_US_VAULT_ADDR: usVault.address,
        PII_US_VAULT_TOKEN: usVault.token,
        DEK_CACHE_TTL_MS: '0',
        PII_JOB_POLL_MS: '50',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await euVault?.stop();
    await usVault?.stop();
  });

  const ME = '{ me { region email givenName } }';
  const vaultCall = async (vault: VaultTransitDouble, method: string, path: string, body?: unknown): Promise<any> =>
    (await fetch(`${vault.address}/v1/transit/${path}`, { method, headers: { 'x-vault-token': vault.token }, body: body ? JSON.stringify(body) : undefined })).json().catch(() => null);

  test('data keys are wrapped by each region\'s own Vault; rotation re-wraps through Vault and retiring sets min_decryption_version', async () => {
    const eu = await createSubject(stack, 'vault-eu', { ...PROFILE, email: 'vault.eu@example.com' }, []);
    await createSubject(stack, 'vault-us', { email: 'vault.us@example.com', address: { line1: '1 Main St', city: 'Austin', postalCode: '73301', country: 'US' } }, []);
    expect((await stack.gql(ME, {}, { token: eu.token })).data?.me).toEqual({ region: 'eu', email: 'vault.eu@example.com', givenName: 'Alice' });
    const euId = await subjectIdByEmail(stack, 'vault.eu@example.com');
    const wrapped = async () => (await stack.sql<{ wrapped: string }>(`SELECT wrapped FROM "${stack.schema('pii_eu_keys')}".data_key WHERE subject_id = $1`, [euId]))[0].wrapped;
    expect(await wrapped()).toMatch(/^vault:v1:/);
    expect(euVault.calls.get('encrypt')).toBeGreaterThan(0);
    expect(usVault.calls.get('encrypt')).toBeGreaterThan(0);

    const admin = await stack.tokens.admin();
    const regions = await stack.gql('{ piiRegions { code keyProvider keyId latestVersion } }', {}, { token: admin });
    expect(regions.data?.piiRegions).toEqual([
      { code: 'eu', keyProvider: 'VAULT', keyId: 'vault:transit/privgraph-pii-eu', latestVersion: 1 },
      { code: 'us', keyProvider: 'VAULT', keyId: 'vault:transit/privgraph-pii-us', latestVersion: 1 },
    ]);
    const started = await stack.gql('mutation { rotateRegionKey(region: "eu", reason: "annual") { id } }', {}, { token: admin });
    expectNoErrors(started);
    const id = started.data?.rotateRegionKey.id;
    for (let i = 0; i < 200; i += 1) {
      const status = (await stack.gql('query($id: ID!) { keyRotation(id: $id) { status } }', { id }, { token: admin })).data?.keyRotation.status;
      if (status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await wrapped()).toMatch(/^vault:v2:/);
    expect(euVault.calls.get('rewrap')).toBeGreaterThan(0);
    expectNoErrors(await stack.gql('mutation { retireKeyVersions(region: "eu", minDecryptionVersion: 2, reason: "annual") { minDecryptionVersion } }', {}, { token: admin }));
    expect((await vaultCall(euVault, 'GET', 'keys/privgraph-pii-eu')).data.min_decryption_version).toBe(2);
    expect((await stack.gql(ME, {}, { token: eu.token })).data?.me.email).toBe('vault.eu@example.com');
  });

  test.each(['sealed', 'unreachable', 'malformed'] as const)(
    'a %s Vault fails PII closed (DEPENDENCY_UNAVAILABLE, nothing written) while non-PII and the other region keep working',
    async (fault) => {
      const eu = await createSubject(stack, `fault-eu-${fault}`, { email: `fault.${fault}@example.com` }, []);
      const us = await createSubject(stack, `fault-us-${fault}`, { email: `fault.us.${fault}@example.com`, address: { line1: '1 Main St', city: 'Austin', postalCode: '73301', country: 'US' } }, []);
      const euId = await subjectIdByEmail(stack, `fault.${fault}@example.com`);
      const stored = () => stack.sql<{ ciphertext: Buffer }>(`SELECT ciphertext FROM "${stack.schema('pii_eu')}".pii_field WHERE subject_id = $1 AND field = 'email'`, [euId]);
      const [before] = await stored();
      euVault.setFault(fault);
      try {
        const read = await stack.gql(ME, {}, { token: eu.token });
        expect(read.data?.me).toEqual({ region: 'eu', email: null, givenName: null });
        expect(new Set(codes(read))).toEqual(new Set(['DEPENDENCY_UNAVAILABLE']));
        const write = await stack.gql('mutation { updateMyProfile(input: { email: "changed@example.com" }) { region } }', {}, { token: eu.token });
        expect(codes(write)).toEqual(['DEPENDENCY_UNAVAILABLE']);
        const [after] = await stored();
        expect(after.ciphertext.equals(before.ciphertext)).toBe(true);
        expect((await stack.gql(ME, {}, { token: us.token })).data?.me.email).toBe(`fault.us.${fault}@example.com`);
        expect(JSON.stringify(read.errors)).not.toMatch(/vault:v|hvs\.|127\.0\.0\.1/);
      } finally {
        euVault.setFault(null);
      }
      expect((await stack.gql(ME, {}, { token: eu.token })).data?.me.email).toBe(`fault.${fault}@example.com`);
    },
  );

  test('a key version retired directly in Vault while data keys use it gives KEY_VERSION_RETIRED', async () => {
    const subject = await createSubject(stack, 'vault-stranded', { email: 'vault.stranded@example.com' }, []);
    await vaultCall(euVault, 'POST', 'keys/privgraph-pii-eu/rotate');
    const latest = (await vaultCall(euVault, 'GET', 'keys/privgraph-pii-eu')).data.latest_version;
    await vaultCall(euVault, 'POST', 'keys/privgraph-pii-eu/config', { min_decryption_version: latest });
    const read = await stack.gql(ME, {}, { token: subject.token });
    expect(read.data?.me).toEqual({ region: 'eu', email: null, givenName: null });
    expect(new Set(codes(read))).toEqual(new Set(['KEY_VERSION_RETIRED']));
  });
});
