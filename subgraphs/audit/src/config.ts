import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, DEFAULT_PORTS, loadCommonConfig, loadDatabaseConfig, parseEnv, type CommonConfig, type DatabaseConfig, type Env } from '../../../shared/config';
import { devSigningKeyPath } from '../../../shared/signing-key';

export interface AuditConfig {
  common: CommonConfig;
  database: DatabaseConfig;
  checkpoints: {
    /** The JSON Lines file signed checkpoints are appended to (keep it on other storage than the database). */
    path: string;
    /** How often a checkpoint of the head is written when the log grew; 0 = only on demand. */
    intervalMs: number;
  };
  /** The platform's ES256 signing key (private JWK); generated under the data directory outside production. */
  signingKey: { path: string; createIfMissing: boolean };
}

export function loadAuditConfig(env: Env): AuditConfig {
  const common = loadCommonConfig(env, 'AUDIT_PORT', DEFAULT_PORTS.audit);
  return { common, database: loadDatabaseConfig(env, 'audit'), ...loadIntegrityConfig(env, common.dataDir, common.env === 'production') };
}

/** Checkpoint store and signing key: what the service writes with and `npm run audit:verify` checks against. */
export function loadIntegrityConfig(env: Env, dataDir: string, production: boolean): Pick<AuditConfig, 'checkpoints' | 'signingKey'> {
  const parsed = parseEnv(
    z.object({
      AUDIT_CHECKPOINT_PATH: z.string().min(1).optional(),
      AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
      PLATFORM_SIGNING_KEY_FILE: z.string().min(1).optional(),
    }),
    env,
  );
  if (production && !parsed.PLATFORM_SIGNING_KEY_FILE) {
    throw new ConfigError(['PLATFORM_SIGNING_KEY_FILE: required in production (a private P-256 JWK; see the README)']);
  }
  return {
    checkpoints: {
      path: parsed.AUDIT_CHECKPOINT_PATH ?? join(dataDir, 'audit-checkpoints.jsonl'),
      intervalMs: parsed.AUDIT_CHECKPOINT_INTERVAL_MS,
    },
    signingKey: { path: parsed.PLATFORM_SIGNING_KEY_FILE ?? devSigningKeyPath(dataDir), createIfMissing: !parsed.PLATFORM_SIGNING_KEY_FILE },
  };
}
