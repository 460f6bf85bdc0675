import { ConfigError } from '../../../shared/config';
import { loadPiiConfig } from './config';

/** Uses an external issuer so no development key file is needed. */
const base = {
  AUTH_ISSUER: 'https://auth.example.com/oidc',
  AUTH_AUDIENCE: 'https://api.example.com',
  INTERNAL_API_TOKEN: 'x'.repeat(40),
  DATABASE_URL: 'postgres://db/privgraph',
};

const problems = (env: Record<string, string>) => {
  try {
    loadPiiConfig({ ...base, ...env });
  } catch (error) {
    return (error as ConfigError).problems;
  }
  return [];
};

describe('pii configuration', () => {
  test('defaults: regions eu and us, schemas per region with key stores apart, local keyring, EEA → eu and US → us', () => {
    const config = loadPiiConfig({ ...base, DB_SCHEMA_PREFIX: 'x_' });
    expect(config.regions.map((r) => [r.code, r.data.schema, r.keys.schema, r.kek.provider])).toEqual([
      ['eu', 'x_pii_eu', 'x_pii_eu_keys', 'local'],
      ['us', 'x_pii_us', 'x_pii_us_keys', 'local'],
    ]);
    expect(config.defaultRegion).toBe('eu');
    expect(config.countryRegions.get('DE')).toBe('eu');
    expect(config.countryRegions.get('NO')).toBe('eu');
    expect(config.countryRegions.get('US')).toBe('us');
    expect(config.countryRegions.get('JP')).toBeUndefined();
  });

  test('each region can have its own database, key store and Vault', () => {
    const config = loadPiiConfig({
      ...base,
      PII_REGIONS: 'eu,us',
      PII_US_DATABASE_URL: 'postgres://us-db/pii',
      PII_US_KEYS_DATABASE_URL: 'postgres://us-keys/pii',
      PII_US_KEY_PROVIDER: 'vault',
      PII_US_VAULT_ADDR: 'https://vault.us.example.com:8200',
      PII_US_VAULT_TOKEN: 'hvs.us',
    });
    const us = config.regions[1];
    expect([us.data.url, us.keys.url]).toEqual(['postgres://us-db/pii', 'postgres://us-keys/pii']);
    expect(us.kek).toMatchObject({ provider: 'vault', keyName: 'privgraph-pii-us', indexKeyName: 'privgraph-index-us', vault: { address: 'https://vault.us.example.com:8200', mount: 'transit' } });
    expect(config.regions[0].kek.provider).toBe('local');
  });

  test.each([
    [{ PII_REGIONS: 'EU' }, /PII_REGIONS/],
    [{ PII_REGIONS: 'eu,eu' }, /twice/],
    [{ PII_DEFAULT_REGION: 'apac' }, /PII_DEFAULT_REGION/],
    [{ PII_COUNTRY_REGIONS: 'Germany=eu' }, /PII_COUNTRY_REGIONS/],
    [{ PII_COUNTRY_REGIONS: 'JP=apac' }, /not in PII_REGIONS/],
    [{ KEY_PROVIDER: 'vault' }, /VAULT_ADDR/],
    [{ KEY_PROVIDER: 'vault', VAULT_ADDR: 'https://vault:8200' }, /VAULT_TOKEN/],
    [{ PII_EU_KEY_PROVIDER: 'kms' }, /PII_EU_KEY_PROVIDER/],
  ])('%j is refused with a message naming the variable', (env, message) => {
    expect(problems(env as Record<string, string>).join('\n')).toMatch(message);
  });
});
