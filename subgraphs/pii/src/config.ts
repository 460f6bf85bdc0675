import { join } from 'node:path';
import { z } from 'zod';
import {
  ConfigError,
  DEFAULT_PORTS,
  loadCommonConfig,
  loadDatabaseConfig,
  parseEnv,
  loadErasureLedgerConfig,
  type CommonConfig,
  type DatabaseConfig,
  type Env,
  type ErasureLedgerConfig,
} from '../../../shared/config';
import { DEFAULT_COUNTRY_REGIONS, REGION_PATTERN } from './services/regions';

export type KekConfig =
  | { provider: 'local'; keyringPath: string; keyName: string; indexKeyName: string }
  | {
      provider: 'vault';
      vault: { address: string; token: string; namespace?: string; mount: string; timeoutMs: number };
      keyName: string;
      indexKeyName: string;
    };

/** One region's store: its data (ciphertexts, blind index) and, apart from it, its wrapped data keys. */
export interface RegionConfig {
  code: string;
  data: DatabaseConfig;
  keys: DatabaseConfig;
  kek: KekConfig;
}

export interface PiiConfig {
  common: CommonConfig;
  /** Placement of subjects in regions and key-rotation jobs: no personal data. */
  database: DatabaseConfig;
  regions: RegionConfig[];
  defaultRegion: string;
  /** ISO 3166-1 alpha-2 → region; `*` is the fallback when set. */
  countryRegions: Map<string, string>;
  dekCache: { ttlMs: number; max: number };
  rotation: { batchSize: number; pollMs: number; leaseMs: number };
  /** Erased subjects, kept outside the databases and replayed before serving (survives restores). */
  erasureLedger: ErasureLedgerConfig;
}

const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL');

export function loadPiiConfig(env: Env): PiiConfig {
  const common = loadCommonConfig(env, 'PII_PORT', DEFAULT_PORTS.pii);
  const parsed = parseEnv(
    z.object({
      PII_REGIONS: z
        .string()
        .default('eu,us')
        .transform((s) => s.split(',').map((r) => r.trim()).filter(Boolean))
        .refine((list) => list.length > 0 && list.every((r) => REGION_PATTERN.test(r)), {
          message: 'a comma-separated list of region codes (2-8 lower-case letters), e.g. eu,us',
        })
        .refine((list) => new Set(list).size === list.length, { message: 'lists a region twice' }),
      PII_DEFAULT_REGION: z.string().optional(),
      PII_COUNTRY_REGIONS: z.string().optional(),
      KEY_PROVIDER: z.enum(['local', 'vault']).default('local'),
      PII_KEYRING_PATH: z.string().min(1).optional(),
      VAULT_ADDR: z.url({ protocol: /^https?$/ }).optional(),
      VAULT_TOKEN: z.string().min(1).optional(),
      VAULT_NAMESPACE: z.string().min(1).optional(),
      VAULT_TRANSIT_MOUNT: z.string().regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/).default('transit'),
      VAULT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3000),
      DEK_CACHE_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
      DEK_CACHE_MAX: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
      PII_REWRAP_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
      PII_JOB_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(2000),
      PII_JOB_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
    }),
    env,
  );
  const problems: string[] = [];
  const defaultRegion = parsed.PII_DEFAULT_REGION ?? parsed.PII_REGIONS[0];
  if (!parsed.PII_REGIONS.includes(defaultRegion)) problems.push(`PII_DEFAULT_REGION: "${defaultRegion}" is not one of PII_REGIONS`);
  const countryRegions = countryTable(parsed.PII_COUNTRY_REGIONS, parsed.PII_REGIONS, problems);
  const control = loadDatabaseConfig(env, 'pii');
  const regions = parsed.PII_REGIONS.map((code): RegionConfig => {
    const upper = code.toUpperCase();
    const dataUrl = env[`PII_${upper}_DATABASE_URL`] ?? control.url;
    const keysUrl = env[`PII_${upper}_KEYS_DATABASE_URL`] ?? dataUrl;
    for (const [name, value] of [[`PII_${upper}_DATABASE_URL`, dataUrl], [`PII_${upper}_KEYS_DATABASE_URL`, keysUrl]]) {
      if (!postgresUrl.safeParse(value).success) problems.push(`${name}: must be a postgres:// URL`);
    }
    const prefix = control.schema.slice(0, -'pii'.length);
    return {
      code,
      data: { ...control, url: dataUrl, schema: `${prefix}pii_${code}` },
      keys: { ...control, url: keysUrl, schema: `${prefix}pii_${code}_keys` },
      kek: kekConfig(code, env, parsed, common.dataDir, problems),
    };
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    common,
    database: control,
    regions,
    defaultRegion,
    countryRegions,
    dekCache: { ttlMs: parsed.DEK_CACHE_TTL_MS, max: parsed.DEK_CACHE_MAX },
    rotation: { batchSize: parsed.PII_REWRAP_BATCH_SIZE, pollMs: parsed.PII_JOB_POLL_MS, leaseMs: parsed.PII_JOB_LEASE_MS },
    erasureLedger: loadErasureLedgerConfig(env, common.dataDir, common.env === 'production'),
  };
}

type ParsedEnv = {
  KEY_PROVIDER: 'local' | 'vault';
  PII_KEYRING_PATH?: string;
  VAULT_ADDR?: string;
  VAULT_TOKEN?: string;
  VAULT_NAMESPACE?: string;
  VAULT_TRANSIT_MOUNT: string;
  VAULT_TIMEOUT_MS: number;
};

/** Each region may use its own provider and its own Vault (`PII_<REGION>_KEY_PROVIDER`, `PII_<REGION>_VAULT_ADDR`, …). */
function kekConfig(code: string, env: Env, parsed: ParsedEnv, dataDir: string, problems: string[]): KekConfig {
  const upper = code.toUpperCase();
  const provider = env[`PII_${upper}_KEY_PROVIDER`] ?? parsed.KEY_PROVIDER;
  if (provider === 'local') {
    return {
      provider,
      keyringPath: parsed.PII_KEYRING_PATH ?? join(dataDir, 'keyring.json'),
      keyName: `pii-${code}`,
      indexKeyName: `index-${code}`,
    };
  }
  if (provider !== 'vault') {
    problems.push(`PII_${upper}_KEY_PROVIDER: must be local or vault`);
    return { provider: 'local', keyringPath: '', keyName: '', indexKeyName: '' };
  }
  const address = env[`PII_${upper}_VAULT_ADDR`] ?? parsed.VAULT_ADDR;
  const token = env[`PII_${upper}_VAULT_TOKEN`] ?? parsed.VAULT_TOKEN;
  if (!address || !z.url({ protocol: /^https?$/ }).safeParse(address).success) {
    problems.push(`VAULT_ADDR (or PII_${upper}_VAULT_ADDR): required with the vault key provider, e.g. https://vault.example.com:8200`);
  }
  if (!token) problems.push(`VAULT_TOKEN (or PII_${upper}_VAULT_TOKEN): required with the vault key provider`);
  const keyName = env[`PII_${upper}_VAULT_KEY`] ?? `privgraph-pii-${code}`;
  const indexKeyName = env[`PII_${upper}_VAULT_INDEX_KEY`] ?? `privgraph-index-${code}`;
  for (const [name, value] of [[`PII_${upper}_VAULT_KEY`, keyName], [`PII_${upper}_VAULT_INDEX_KEY`, indexKeyName]]) {
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(value)) problems.push(`${name}: letters, digits, _ . - only`);
  }
  return {
    provider,
    vault: {
      address: address ?? '',
      token: token ?? '',
      namespace: env[`PII_${upper}_VAULT_NAMESPACE`] ?? parsed.VAULT_NAMESPACE,
      mount: parsed.VAULT_TRANSIT_MOUNT,
      timeoutMs: parsed.VAULT_TIMEOUT_MS,
    },
    keyName,
    indexKeyName,
  };
}

/**
 * The built-in table (EEA, Switzerland and the UK → eu; the US → us) keeps only entries whose region
 * is configured; `PII_COUNTRY_REGIONS` (e.g. `CA=us,JP=apac,*=eu`) adds or overrides entries.
 */
function countryTable(spec: string | undefined, regions: string[], problems: string[]): Map<string, string> {
  const table = new Map([...DEFAULT_COUNTRY_REGIONS].filter(([, region]) => regions.includes(region)));
  for (const entry of (spec ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([A-Za-z]{2}|\*)=([a-z]{2,8})$/.exec(entry);
    if (!match) {
      problems.push(`PII_COUNTRY_REGIONS: "${entry}" is not COUNTRY=region (e.g. DE=eu, *=eu)`);
      continue;
    }
    if (!regions.includes(match[2])) {
      problems.push(`PII_COUNTRY_REGIONS: "${entry}" names a region that is not in PII_REGIONS`);
      continue;
    }
    table.set(match[1].toUpperCase(), match[2]);
  }
  return table;
}
