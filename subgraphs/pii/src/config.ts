import { join } from 'node:path';
import { z } from 'zod';
import {
  DEFAULT_PORTS,
  loadCommonConfig,
  loadDatabaseConfig,
  parseEnv,
  type CommonConfig,
  type DatabaseConfig,
  type Env,
} from '../../../shared/config';

export interface PiiConfig {
  common: CommonConfig;
  database: DatabaseConfig;
  keys: { provider: 'local'; keyringPath: string };
  dekCacheTtlMs: number;
}

export function loadPiiConfig(env: Env): PiiConfig {
  const common = loadCommonConfig(env, 'PII_PORT', DEFAULT_PORTS.pii);
  const parsed = parseEnv(
    z.object({
      KEY_PROVIDER: z.literal('local').default('local'),
      PII_KEYRING_PATH: z.string().min(1).optional(),
      DEK_CACHE_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(300_000),
    }),
    env,
  );
  return {
    common,
    database: loadDatabaseConfig(env, 'pii'),
    keys: { provider: parsed.KEY_PROVIDER, keyringPath: parsed.PII_KEYRING_PATH ?? join(common.dataDir, 'keyring.json') },
    dekCacheTtlMs: parsed.DEK_CACHE_TTL_MS,
  };
}
