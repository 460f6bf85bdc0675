import { z } from 'zod';
import { ConfigError, DEFAULT_PORTS, loadCommonConfig, parseEnv, type CommonConfig, type Env, type GraphqlLimits } from '../../shared/config';
import { checkOrigin } from '../../shared/tenant-policy-client';

/** The limits every service applies (`GRAPHQL_MAX_*`, shared/config.ts); `GATEWAY_MAX_*` are their earlier names. */
export type GatewayLimits = GraphqlLimits;

export interface GatewayConfig {
  common: CommonConfig;
  limits: GatewayLimits;
  // Logto webhook (POST /webhooks/logto)
  /** LOGTO_WEBHOOK_SIGNING_KEY: the Logto hook's signing key; unset, the route answers 404. */
  logtoWebhookSigningKey: string | null;
  cors: CorsSettings;
  safelist: SafelistSettings;
  /** SANDBOX_ENABLED: the offline GraphiQL page at /sandbox and /graphql; default on outside production. */
  sandboxEnabled: boolean;
  rateLimit: RateLimitSettings;
}

/** Rate limits per principal, charged by operation cost (docs/security.md#rate-limits). */
export interface RateLimitSettings {
  /** RATE_LIMIT_STORE: where counters live; memory is per replica, postgres and redis are shared by replicas. */
  store: 'memory' | 'postgres' | 'redis';
  /** RATE_LIMIT_REDIS_URL: required with the redis store. */
  redisUrl: string | null;
  /** RATE_LIMIT_DATABASE_URL (default DATABASE_URL): required with the postgres store. */
  databaseUrl: string | null;
  /** `<DB_SCHEMA_PREFIX>gateway`: the schema the postgres store's table lives in. */
  databaseSchema: string;
  /** RATE_LIMIT_POINTS: points per window for each authenticated principal. */
  points: number;
  /** RATE_LIMIT_ANONYMOUS_POINTS: points per window for each IP address without a token. */
  anonymousPoints: number;
  /** RATE_LIMIT_WINDOW_SECONDS */
  windowSeconds: number;
  /** RATE_LIMIT_STORE_TIMEOUT_MS: a store slower than this counts as down (the per-replica limiter decides). */
  storeTimeoutMs: number;
}

/** Browser access (docs/cors.md). */
export interface CorsSettings {
  /** CORS_ORIGINS: exact origins allowed besides those tenants set; none by default. */
  origins: string[];
  /** CORS_MAX_AGE_SECONDS: how long a browser may cache a preflight answer (Access-Control-Max-Age). */
  maxAgeSeconds: number;
}

/** Persisted operations and safelisting (docs/safelisting.md). */
export interface SafelistSettings {
  /** TENANT_POLICY_CACHE_MS: how long a tenant's policy and the tenants' origins are reused before identity is asked again. */
  policyCacheMs: number;
  /** SAFELIST_REPORT_FLUSH_MS: how often REPORT-mode counts are sent to identity. */
  reportFlushMs: number;
}

const MAX_CORS_ORIGINS = 100;

function loadRateLimit(env: Env): RateLimitSettings {
  const parsed = parseEnv(
    z.object({
      RATE_LIMIT_STORE: z.enum(['memory', 'postgres', 'redis']).default('memory'),
      RATE_LIMIT_REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
      RATE_LIMIT_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
      DATABASE_URL: z.string().optional(),
      DB_SCHEMA_PREFIX: z.string().regex(/^[a-z][a-z0-9_]{0,30}$/, 'lower-case letters, digits and _').optional(),
      RATE_LIMIT_POINTS: z.coerce.number().int().min(1).max(1_000_000_000).default(100_000),
      RATE_LIMIT_ANONYMOUS_POINTS: z.coerce.number().int().min(1).max(1_000_000_000).default(10_000),
      RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
      RATE_LIMIT_STORE_TIMEOUT_MS: z.coerce.number().int().min(50).max(10_000).default(500),
    }),
    env,
  );
  const databaseUrl = parsed.RATE_LIMIT_DATABASE_URL ?? parsed.DATABASE_URL ?? null;
  const problems: string[] = [];
  if (parsed.RATE_LIMIT_STORE === 'redis' && !parsed.RATE_LIMIT_REDIS_URL) problems.push('RATE_LIMIT_REDIS_URL: required when RATE_LIMIT_STORE=redis');
  if (parsed.RATE_LIMIT_STORE === 'postgres' && !databaseUrl) problems.push('RATE_LIMIT_DATABASE_URL or DATABASE_URL: required when RATE_LIMIT_STORE=postgres');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    store: parsed.RATE_LIMIT_STORE,
    redisUrl: parsed.RATE_LIMIT_REDIS_URL ?? null,
    databaseUrl,
    databaseSchema: `${parsed.DB_SCHEMA_PREFIX ?? ''}gateway`,
    points: parsed.RATE_LIMIT_POINTS,
    anonymousPoints: parsed.RATE_LIMIT_ANONYMOUS_POINTS,
    windowSeconds: parsed.RATE_LIMIT_WINDOW_SECONDS,
    storeTimeoutMs: parsed.RATE_LIMIT_STORE_TIMEOUT_MS,
  };
}

function loadCors(env: Env, production: boolean): CorsSettings {
  const parsed = parseEnv(
    z.object({
      CORS_ORIGINS: z.string().default(''),
      CORS_MAX_AGE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(600),
    }),
    env,
  );
  const values = parsed.CORS_ORIGINS.split(',').map((value) => value.trim()).filter(Boolean);
  const problems: string[] = [];
  if (values.length > MAX_CORS_ORIGINS) problems.push(`CORS_ORIGINS: at most ${MAX_CORS_ORIGINS} origins`);
  const origins = values.flatMap((value, index) => {
    const checked = checkOrigin(value, { production });
    if ('origin' in checked) return [checked.origin];
    problems.push(`CORS_ORIGINS: entry ${index + 1} ${checked.refused}`);
    return [];
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return { origins: [...new Set(origins)], maxAgeSeconds: parsed.CORS_MAX_AGE_SECONDS };
}

export function loadGatewayConfig(env: Env): GatewayConfig {
  const common = loadCommonConfig(env, 'PORT', DEFAULT_PORTS.gateway);
  // Logto webhook
  const { LOGTO_WEBHOOK_SIGNING_KEY } = parseEnv(
    z.object({ LOGTO_WEBHOOK_SIGNING_KEY: z.string().trim().min(16, 'must be the signing key Logto shows for the webhook').optional() }),
    env,
  );
  const { SANDBOX_ENABLED } = parseEnv(z.object({ SANDBOX_ENABLED: z.enum(['true', 'false']).optional() }), env);
  const safelist = parseEnv(
    z.object({
      TENANT_POLICY_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(3_000),
      SAFELIST_REPORT_FLUSH_MS: z.coerce.number().int().min(50).max(300_000).default(5_000),
    }),
    env,
  );
  return {
    common,
    cors: loadCors(env, common.env === 'production'),
    safelist: { policyCacheMs: safelist.TENANT_POLICY_CACHE_MS, reportFlushMs: safelist.SAFELIST_REPORT_FLUSH_MS },
    logtoWebhookSigningKey: LOGTO_WEBHOOK_SIGNING_KEY ?? null,
    sandboxEnabled: SANDBOX_ENABLED ? SANDBOX_ENABLED === 'true' : common.env !== 'production',
    rateLimit: loadRateLimit(env),
    limits: common.limits,
  };
}
