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
import { loadOrCreateSecret } from '../../../shared/secrets';

export interface IdentityConfig {
  common: CommonConfig;
  database: DatabaseConfig;
  /** Keys the pairwise refs. Rotating it changes only refs created afterwards (stored refs stay). */
  refSecret: string;
}

export function loadIdentityConfig(env: Env): IdentityConfig {
  const common = loadCommonConfig(env, 'IDENTITY_PORT', DEFAULT_PORTS.identity);
  const { PAIRWISE_REF_SECRET } = parseEnv(
    z.object({ PAIRWISE_REF_SECRET: z.string().min(32, 'must be at least 32 characters').optional() }),
    env,
  );
  if (!PAIRWISE_REF_SECRET && common.env === 'production') {
    throw new Error('PAIRWISE_REF_SECRET: required in production');
  }
  return {
    common,
    database: loadDatabaseConfig(env, 'identity'),
    refSecret: PAIRWISE_REF_SECRET ?? loadOrCreateSecret(common.dataDir, 'pairwise-ref'),
  };
}
