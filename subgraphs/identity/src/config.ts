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
  /** The identity provider's Management API, for the erasure saga's IdP step (docs/logto.md). */
  idpAccounts: IdpAccountsSettings;
}

// --- Logto Management API ---
/** A machine-to-machine app of the Logto tenant; a missing part leaves the IdP step SKIPPED (it says which). */
export interface IdpAccountsSettings {
  /** LOGTO_MANAGEMENT_ENDPOINT, else LOGTO_ENDPOINT (e.g. https://auth.example.com). */
  endpoint: string | null;
  /** LOGTO_M2M_APP_ID / LOGTO_M2M_APP_SECRET. */
  appId: string | null;
  appSecret: string | null;
  /** LOGTO_MANAGEMENT_RESOURCE: the Management API's resource indicator (OSS: https://default.logto.app/api). */
  resource: string;
  /** LOGTO_MANAGEMENT_TIMEOUT_MS: per HTTP call. */
  timeoutMs: number;
}

function loadIdpAccountsSettings(env: Env): IdpAccountsSettings {
  const parsed = parseEnv(
    z.object({
      LOGTO_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
      LOGTO_MANAGEMENT_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
      LOGTO_M2M_APP_ID: z.string().trim().min(1).max(200).optional(),
      LOGTO_M2M_APP_SECRET: z.string().trim().min(1).max(500).optional(),
      LOGTO_MANAGEMENT_RESOURCE: z.string().trim().min(1).max(500).default('https://default.logto.app/api'),
      LOGTO_MANAGEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    }),
    env,
  );
  return {
    endpoint: (parsed.LOGTO_MANAGEMENT_ENDPOINT ?? parsed.LOGTO_ENDPOINT)?.replace(/\/+$/, '') ?? null,
    appId: parsed.LOGTO_M2M_APP_ID ?? null,
    appSecret: parsed.LOGTO_M2M_APP_SECRET ?? null,
    resource: parsed.LOGTO_MANAGEMENT_RESOURCE,
    timeoutMs: parsed.LOGTO_MANAGEMENT_TIMEOUT_MS,
  };
}
// --- end Logto Management API ---

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
    idpAccounts: loadIdpAccountsSettings(env),
  };
}
