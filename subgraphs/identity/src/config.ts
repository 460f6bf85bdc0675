import { z } from 'zod';
import {
  ConfigError,
  DEFAULT_PORTS,
  loadCommonConfig,
  loadDatabaseConfig,
  loadErasureLedgerConfig,
  loadSigningKeyConfig,
  parseEnv,
  type CommonConfig,
  type DatabaseConfig,
  type Env,
  type ErasureLedgerConfig,
  type SigningKeyConfig,
} from '../../../shared/config';
import type { SagaSettings } from './services/rights-saga';
import { loadOrCreateSecret } from '../../../shared/secrets';

export interface IdentityConfig {
  common: CommonConfig;
  database: DatabaseConfig;
  /** Keys the pairwise refs. Rotating it changes only refs created afterwards (stored refs stay). */
  refSecret: string;
  /** The identity provider's Management API, for the erasure saga's IdP step (docs/logto.md). */
  idpAccounts: IdpAccountsSettings;
  /** Data subject requests: the saga's retries and timings, the erasure ledger, the job queue. */
  rights: RightsSettings;
  /** Webhooks to shops (docs/webhooks.md). */
  webhooks: WebhookSettings;
  /** Data export download links (docs/data-export.md). */
  dataExport: DataExportSettings;
  /** PII-free passports for shop logins (docs/passports.md). */
  passport: PassportSettings;
}

// Passports
export interface PassportSettings {
  /** PASSPORT_TTL_SECONDS: a passport's lifetime (60-3600, default 600). */
  ttlSeconds: number;
  /** PASSPORT_ISSUER: the `iss` claim; default PUBLIC_GATEWAY_URL, else urn:privgraph:platform. */
  issuer: string;
}

export const DEFAULT_PASSPORT_ISSUER = 'urn:privgraph:platform';

export function loadPassportSettings(env: Env): PassportSettings {
  const parsed = parseEnv(
    z.object({
      PASSPORT_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
      PASSPORT_ISSUER: z.string().trim().min(1).max(500).regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, 'must be a URI (e.g. https://api.example.com)').optional(),
      PUBLIC_GATEWAY_URL: z.url({ protocol: /^https?$/ }).optional(),
    }),
    env,
  );
  return { ttlSeconds: parsed.PASSPORT_TTL_SECONDS, issuer: parsed.PASSPORT_ISSUER ?? parsed.PUBLIC_GATEWAY_URL ?? DEFAULT_PASSPORT_ISSUER };
}

// Data export
export interface DataExportSettings {
  /** Signs the short-lived download links (the platform key, as for receipts and checkpoints). */
  signingKey: SigningKeyConfig;
  /** PUBLIC_GATEWAY_URL: where users reach the gateway, to make absolute links; unset, links are paths on the gateway. */
  publicGatewayUrl: string | null;
}

function loadDataExportSettings(env: Env, dataDir: string, production: boolean): DataExportSettings {
  const { PUBLIC_GATEWAY_URL } = parseEnv(z.object({ PUBLIC_GATEWAY_URL: z.url({ protocol: /^https?$/ }).optional() }), env);
  return { signingKey: loadSigningKeyConfig(env, dataDir, production), publicGatewayUrl: PUBLIC_GATEWAY_URL ?? null };
}

// Webhooks
export interface WebhookSettings {
  /** Outside production private and loopback URLs are always allowed; in production only with this set. */
  allowPrivateUrls: boolean;
  production: boolean;
  /** Seconds between attempts after a failure; the last value repeats until maxAgeHours. */
  retryScheduleSeconds: number[];
  /** A delivery not answered with 2xx within this time is a failed attempt. */
  timeoutMs: number;
  /** After this many hours since the event (or a redelivery), a delivery that keeps failing is FAILED. */
  maxAgeHours: number;
  /** WEBHOOK_SECRET_KEY: seals the endpoints' signing secrets at rest (required in production). */
  secretKey: string;
  /** WEBHOOK_RETENTION_DAYS: settled events and their delivery log are removed after this many days. */
  retentionDays: number;
}

/** Standard Webhooks / Svix schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then every 10 h until 72 h. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE = '5,300,1800,7200,18000,36000,36000';

function loadWebhookSettings(env: Env, dataDir: string, production: boolean): WebhookSettings {
  const parsed = parseEnv(
    z.object({
      WEBHOOK_ALLOW_PRIVATE_URLS: z.enum(['true', 'false']).default('false'),
      WEBHOOK_RETRY_SCHEDULE: z
        .string()
        .default(DEFAULT_WEBHOOK_RETRY_SCHEDULE)
        .transform((s) => s.split(',').map((v) => v.trim()))
        .refine((list) => list.length > 0 && list.length <= 50 && list.every((v) => /^\d{1,6}$/.test(v) && Number(v) >= 1), {
          message: 'a comma list of 1-50 whole numbers of seconds (each at least 1), e.g. 5,300,1800',
        })
        .transform((list) => list.map(Number)),
      WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
      WEBHOOK_MAX_AGE_HOURS: z.coerce.number().min(0.001).max(24 * 30).default(72),
      WEBHOOK_SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
      WEBHOOK_RETENTION_DAYS: z.coerce.number().int().min(4).max(3650).default(30),
    }),
    env,
  );
  if (production && !parsed.WEBHOOK_SECRET_KEY) {
    throw new ConfigError(['WEBHOOK_SECRET_KEY: required in production (32+ random characters; seals webhook signing secrets at rest)']);
  }
  return {
    allowPrivateUrls: parsed.WEBHOOK_ALLOW_PRIVATE_URLS === 'true',
    production,
    retryScheduleSeconds: parsed.WEBHOOK_RETRY_SCHEDULE,
    timeoutMs: parsed.WEBHOOK_TIMEOUT_MS,
    maxAgeHours: parsed.WEBHOOK_MAX_AGE_HOURS,
    secretKey: parsed.WEBHOOK_SECRET_KEY ?? loadOrCreateSecret(dataDir, 'webhook-secrets'),
    retentionDays: parsed.WEBHOOK_RETENTION_DAYS,
  };
}

// Logto Management API
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

// Data subject requests
export interface RightsSettings {
  saga: SagaSettings;
  /** The erasure ledger this service replays before serving (it only reads it; the vault appends). */
  erasureLedger: ErasureLedgerConfig;
  jobs: { pollingIntervalSeconds: number; maintenanceIntervalSeconds: number };
}

function loadRightsSettings(env: Env, dataDir: string, production: boolean): RightsSettings {
  const parsed = parseEnv(
    z.object({
      DSR_STEP_RETRY_LIMIT: z.coerce.number().int().min(0).max(30).default(12),
      DSR_STEP_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
      DSR_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
      DSR_RECHECK_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
      JOBS_POLL_SECONDS: z.coerce.number().min(0.5).max(60).default(2),
      JOBS_MAINTENANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    }),
    env,
  );
  return {
    saga: {
      retryLimit: parsed.DSR_STEP_RETRY_LIMIT,
      stepTimeoutSeconds: parsed.DSR_STEP_TIMEOUT_SECONDS,
      sweepIntervalMs: parsed.DSR_SWEEP_INTERVAL_MS,
      recheckSeconds: parsed.DSR_RECHECK_SECONDS,
    },
    erasureLedger: loadErasureLedgerConfig(env, dataDir, production),
    jobs: { pollingIntervalSeconds: parsed.JOBS_POLL_SECONDS, maintenanceIntervalSeconds: parsed.JOBS_MAINTENANCE_SECONDS },
  };
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
    idpAccounts: loadIdpAccountsSettings(env),
    webhooks: loadWebhookSettings(env, common.dataDir, common.env === 'production'),
    dataExport: loadDataExportSettings(env, common.dataDir, common.env === 'production'),
    rights: loadRightsSettings(env, common.dataDir, common.env === 'production'),
    passport: loadPassportSettings(env),
  };
}
