import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_PORTS, loadCommonConfig, loadDatabaseConfig, loadSigningKeyConfig, parseEnv, type CommonConfig, type DatabaseConfig, type Env, type SigningKeyConfig } from '../../../shared/config';

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
  signingKey: SigningKeyConfig;
  retention: {
    /** Days an event is kept when its tenant has no setting of its own (and for events without a tenant). */
    defaultDays: number;
    /** How often the retention job runs; 0 = only on demand (runAuditRetention). */
    intervalMs: number;
  };
}

export function loadAuditConfig(env: Env): AuditConfig {
  const common = loadCommonConfig(env, 'AUDIT_PORT', DEFAULT_PORTS.audit);
  const retention = parseEnv(
    z.object({
      AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(730),
      AUDIT_RETENTION_INTERVAL_MS: z.coerce.number().int().min(0).max(7 * 86_400_000).default(3_600_000),
    }),
    env,
  );
  return {
    common,
    database: loadDatabaseConfig(env, 'audit'),
    ...loadIntegrityConfig(env, common.dataDir, common.env === 'production'),
    retention: { defaultDays: retention.AUDIT_RETENTION_DAYS, intervalMs: retention.AUDIT_RETENTION_INTERVAL_MS },
  };
}

/** Checkpoint store and signing key: what the service writes with and `npm run audit:verify` checks against. */
export function loadIntegrityConfig(env: Env, dataDir: string, production: boolean): Pick<AuditConfig, 'checkpoints' | 'signingKey'> {
  const parsed = parseEnv(
    z.object({
      AUDIT_CHECKPOINT_PATH: z.string().min(1).optional(),
      AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
    }),
    env,
  );
  return {
    checkpoints: {
      path: parsed.AUDIT_CHECKPOINT_PATH ?? join(dataDir, 'audit-checkpoints.jsonl'),
      intervalMs: parsed.AUDIT_CHECKPOINT_INTERVAL_MS,
    },
    signingKey: loadSigningKeyConfig(env, dataDir, production),
  };
}
