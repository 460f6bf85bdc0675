import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { AuthSettings } from './auth/verifier';
import { DEV_ALGORITHM, DEV_AUDIENCE, DEV_ISSUER, devIssuerJwksPath } from './auth/dev-issuer';
import { devSigningKeyPath } from './signing-key';
import { MAX_DEADLINE_MS, type DeadlineSettings } from './deadline';
import { ORIGIN_MODES, PROXY_HEADERS, parseTrustedProxies, type OriginSettings } from './origin';

/**
 * Configuration shared by every service. Each service's config.ts composes these parsers with its
 * own; together they are the only code that reads process.env.
 */
export type Env = Record<string, string | undefined>;
export type RuntimeEnv = 'development' | 'test' | 'production';
export type ServiceName = 'identity' | 'pii' | 'consent' | 'audit';
export const SERVICE_NAMES: readonly ServiceName[] = ['identity', 'pii', 'consent', 'audit'];
export const DEFAULT_PORTS: Record<ServiceName | 'gateway', number> = {
  gateway: 4000,
  identity: 4001,
  pii: 4002,
  consent: 4003,
  audit: 4004,
};

export interface InternalApiConfig {
  /** Shared secret for service-to-service calls (x-privgraph-internal-token). */
  token: string;
  endpoints: Record<ServiceName, string>;
  timeoutMs: number;
}

export interface DatabaseConfig {
  url: string;
  /**
   * The schema owner's connection, for migrations only (`<SERVICE>_MIGRATION_DATABASE_URL`). When set,
   * `url` is the application role's, which then gets only the privileges its service grants it.
   */
  migrationUrl?: string;
  /** Each service owns one PostgreSQL schema; no service reads another's. */
  schema: string;
  poolSize: number;
  /** DB_STATEMENT_TIMEOUT_MS: the pool's ceiling on any one statement (docs/security.md#deadlines); default 30 s. */
  statementTimeoutMs?: number;
  /** DB_LOCK_TIMEOUT_MS: the pool's ceiling on waiting for a lock; default 10 s. */
  lockTimeoutMs?: number;
}

export interface HttpConfig {
  host: string;
  port: number;
  bodyLimit: string;
  /** REQUEST_DEADLINE_MS: the budget of a request that states none, and the most any may ask for (docs/security.md#deadlines). */
  deadline?: DeadlineSettings;
  /** HTTP_HEADERS_TIMEOUT_MS: a client must have sent its request headers within this (Node's headersTimeout). */
  headersTimeoutMs?: number;
  /** HTTP_REQUEST_TIMEOUT_MS: …and its whole request, body included, within this (Node's requestTimeout). */
  requestTimeoutMs?: number;
  /** Trusted proxies and how audit events record the client's address (docs/security.md#request-origin); default: none, truncated. */
  origin?: OriginSettings;
}

export interface CommonConfig {
  env: RuntimeEnv;
  dataDir: string;
  auth: AuthSettings;
  internal: InternalApiConfig;
  http: HttpConfig;
  limits: GraphqlLimits;
}

/** Limits on every GraphQL request, the same at the gateway and on every subgraph port (docs/security.md#limits). */
export interface GraphqlLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  maxTokens: number;
  maxDirectives: number;
  /** The same field (response key) or fragment spread selected more than this in one selection set is refused. */
  maxFieldRepeats: number;
  /** Representations across all `_entities` fields of one request. */
  maxEntities: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses with zod and reports every problem at once, by variable name. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Env): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`));
  }
  return result.data;
}

const runtimeEnv = z.enum(['development', 'test', 'production']).default('development');
const port = z.coerce.number().int().min(0).max(65535);
const url = z.url({ protocol: /^https?$/ });
const FORBIDDEN_ALGORITHMS = /^(none|HS\d+)$/i;

const commonSchema = z.object({
  NODE_ENV: runtimeEnv,
  PRIVGRAPH_DATA_DIR: z.string().min(1).default('.data'),
  HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_BODY_LIMIT: z.string().regex(/^\d+(kb|mb)$/i, 'use a size like 100kb').default('100kb'),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_JWKS_URL: url.optional(),
  LOGTO_ENDPOINT: url.optional(),
  AUTH_ALGORITHMS: z
    .string()
    .default('ES384,ES256,RS256,PS256,EdDSA')
    .transform((s) => s.split(',').map((a) => a.trim()).filter(Boolean))
    .refine((list) => list.length > 0 && !list.some((a) => FORBIDDEN_ALGORITHMS.test(a)), {
      message: 'must list asymmetric JWS algorithms only (no "none", no HS*)',
    }),
  AUTH_TENANT_CLAIM: z.string().min(1).default('organization_id'),
  AUTH_SCOPE_CLAIM: z.string().min(1).default('scope'),
  AUTH_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
  AUTH_REQUIRE_AT_JWT: z.enum(['true', 'false']).default('true'),
  INTERNAL_API_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  INTERNAL_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
  REQUEST_DEADLINE_MS: z.coerce.number().int().min(100).max(MAX_DEADLINE_MS).default(10_000),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  IDENTITY_URL: url.default(`http://127.0.0.1:${DEFAULT_PORTS.identity}`),
  PII_URL: url.default(`http://127.0.0.1:${DEFAULT_PORTS.pii}`),
  CONSENT_URL: url.default(`http://127.0.0.1:${DEFAULT_PORTS.consent}`),
  AUDIT_URL: url.default(`http://127.0.0.1:${DEFAULT_PORTS.audit}`),
});

const limitsSchema = z.object({
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).max(100).default(12),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(1).max(1000).default(30),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(10).max(1_000_000).default(20_000),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).max(1_000_000).default(5_000),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(1).max(1000).default(50),
  GRAPHQL_MAX_FIELD_REPEATS: z.coerce.number().int().min(1).max(1000).default(5),
  GRAPHQL_MAX_ENTITIES: z.coerce.number().int().min(1).max(100_000).default(500),
});

/** `GRAPHQL_MAX_*`; the gateway's earlier names `GATEWAY_MAX_*` still count where the new one is unset. */
export function loadGraphqlLimits(env: Env): GraphqlLimits {
  const named = (suffix: string) => env[`GRAPHQL_${suffix}`] ?? env[`GATEWAY_${suffix}`];
  const parsed = parseEnv(limitsSchema, {
    GRAPHQL_MAX_DEPTH: named('MAX_DEPTH'),
    GRAPHQL_MAX_ALIASES: named('MAX_ALIASES'),
    GRAPHQL_MAX_COST: named('MAX_COST'),
    GRAPHQL_MAX_TOKENS: named('MAX_TOKENS'),
    GRAPHQL_MAX_DIRECTIVES: named('MAX_DIRECTIVES'),
    GRAPHQL_MAX_FIELD_REPEATS: env.GRAPHQL_MAX_FIELD_REPEATS,
    GRAPHQL_MAX_ENTITIES: env.GRAPHQL_MAX_ENTITIES,
  });
  return {
    maxDepth: parsed.GRAPHQL_MAX_DEPTH,
    maxAliases: parsed.GRAPHQL_MAX_ALIASES,
    maxCost: parsed.GRAPHQL_MAX_COST,
    maxTokens: parsed.GRAPHQL_MAX_TOKENS,
    maxDirectives: parsed.GRAPHQL_MAX_DIRECTIVES,
    maxFieldRepeats: parsed.GRAPHQL_MAX_FIELD_REPEATS,
    maxEntities: parsed.GRAPHQL_MAX_ENTITIES,
  };
}

export function loadCommonConfig(env: Env, portVariable: string, defaultPort: number): CommonConfig {
  const parsed = parseEnv(commonSchema, env);
  const portSchema = z.object({ [portVariable]: port.default(defaultPort) }) as unknown as z.ZodType<Record<string, number>>;
  const listenPort = parseEnv(portSchema, env)[portVariable];
  const production = parsed.NODE_ENV === 'production';
  const problems: string[] = [];
  if (parsed.HTTP_HEADERS_TIMEOUT_MS > parsed.HTTP_REQUEST_TIMEOUT_MS) problems.push('HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS');
  if (!parsed.INTERNAL_API_TOKEN) problems.push('INTERNAL_API_TOKEN: required (a random secret of 32+ characters, the same for every service)');
  const auth = authSettings(parsed, production, problems);
  if (problems.length > 0 || !auth) throw new ConfigError(problems);
  return {
    env: parsed.NODE_ENV,
    dataDir: parsed.PRIVGRAPH_DATA_DIR,
    auth,
    internal: {
      token: parsed.INTERNAL_API_TOKEN as string,
      timeoutMs: parsed.INTERNAL_TIMEOUT_MS,
      endpoints: { identity: parsed.IDENTITY_URL, pii: parsed.PII_URL, consent: parsed.CONSENT_URL, audit: parsed.AUDIT_URL },
    },
    http: {
      host: parsed.HOST,
      port: listenPort,
      bodyLimit: parsed.HTTP_BODY_LIMIT,
      origin: loadOriginSettings(env),
      deadline: { defaultMs: parsed.REQUEST_DEADLINE_MS, maxMs: parsed.REQUEST_DEADLINE_MS },
      headersTimeoutMs: parsed.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: parsed.HTTP_REQUEST_TIMEOUT_MS,
    },
    limits: loadGraphqlLimits(env),
  };
}

function authSettings(parsed: z.infer<typeof commonSchema>, production: boolean, problems: string[]): AuthSettings | undefined {
  const claims = {
    algorithms: parsed.AUTH_ALGORITHMS,
    tenantClaim: parsed.AUTH_TENANT_CLAIM,
    scopeClaim: parsed.AUTH_SCOPE_CLAIM,
    clockToleranceSec: parsed.AUTH_CLOCK_TOLERANCE_SECONDS,
    requireAtJwt: parsed.AUTH_REQUIRE_AT_JWT === 'true',
  };
  const logtoIssuer = parsed.LOGTO_ENDPOINT ? `${parsed.LOGTO_ENDPOINT.replace(/\/+$/, '')}/oidc` : undefined;
  const issuer = parsed.AUTH_ISSUER ?? logtoIssuer;
  if (issuer && issuer !== DEV_ISSUER) {
    if (!parsed.AUTH_AUDIENCE) problems.push('AUTH_AUDIENCE: required with an external issuer (the API resource indicator)');
    return {
      ...claims,
      issuer,
      audience: parsed.AUTH_AUDIENCE ?? '',
      jwks: { kind: 'remote', url: parsed.AUTH_JWKS_URL ?? `${issuer.replace(/\/+$/, '')}/jwks` },
    };
  }
  if (production) {
    problems.push('AUTH_ISSUER or LOGTO_ENDPOINT: required in production (the development token issuer is disabled)');
    return undefined;
  }
  const jwksPath = devIssuerJwksPath(parsed.PRIVGRAPH_DATA_DIR);
  let jwks;
  try {
    jwks = JSON.parse(readFileSync(jwksPath, 'utf8'));
  } catch {
    problems.push(`development issuer keys not found at ${jwksPath}: start privgraph once with "npm start" to create them`);
    return undefined;
  }
  return { ...claims, algorithms: [DEV_ALGORITHM], issuer: DEV_ISSUER, audience: parsed.AUTH_AUDIENCE ?? DEV_AUDIENCE, jwks: { kind: 'local', jwks } };
}

const originSchema = z.object({
  TRUSTED_PROXIES: z.string().max(4000).default(''),
  TRUSTED_PROXY_HEADER: z.enum(PROXY_HEADERS).default('x-forwarded-for'),
  AUDIT_ORIGIN: z.enum(ORIGIN_MODES).default('truncate'),
  AUDIT_ORIGIN_HMAC_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
});

/** Which proxies' forwarding headers are believed, and how audit events record the client's address. */
export function loadOriginSettings(env: Env): OriginSettings {
  const parsed = parseEnv(originSchema, env);
  const problems: string[] = [];
  const trusted = parseTrustedProxies(parsed.TRUSTED_PROXIES);
  if ('problem' in trusted) problems.push(`TRUSTED_PROXIES: ${trusted.problem}`);
  if (parsed.AUDIT_ORIGIN === 'hmac' && !parsed.AUDIT_ORIGIN_HMAC_SECRET) {
    problems.push('AUDIT_ORIGIN_HMAC_SECRET: required with AUDIT_ORIGIN=hmac (32+ characters, the same for every service)');
  }
  if (problems.length > 0 || !('proxies' in trusted)) throw new ConfigError(problems);
  return { trustedProxies: trusted.proxies, proxyHeader: parsed.TRUSTED_PROXY_HEADER, mode: parsed.AUDIT_ORIGIN, hmacSecret: parsed.AUDIT_ORIGIN_HMAC_SECRET };
}

const databaseSchema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  DB_LOCK_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  DB_SCHEMA_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,30}$/, 'lower-case letters, digits and _')
    .optional(),
});

/** `<SERVICE>_DATABASE_URL` wins over `DATABASE_URL`, so each service can have its own database. */
export function loadDatabaseConfig(env: Env, service: ServiceName): DatabaseConfig {
  const specific = `${service.toUpperCase()}_DATABASE_URL`;
  const parsed = parseEnv(databaseSchema, { ...env, DATABASE_URL: env[specific] ?? env.DATABASE_URL });
  const dbUrl = parsed.DATABASE_URL;
  if (!dbUrl) throw new ConfigError([`DATABASE_URL or ${specific}: required`]);
  const migrationVariable = `${service.toUpperCase()}_MIGRATION_DATABASE_URL`;
  const migrationUrl = env[migrationVariable];
  if (migrationUrl !== undefined && !/^postgres(ql)?:\/\//.test(migrationUrl)) throw new ConfigError([`${migrationVariable}: must be a postgres:// URL`]);
  return {
    url: dbUrl,
    migrationUrl,
    schema: `${parsed.DB_SCHEMA_PREFIX ?? ''}${service}`,
    poolSize: parsed.DB_POOL_SIZE,
    statementTimeoutMs: parsed.DB_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: parsed.DB_LOCK_TIMEOUT_MS,
  };
}

/** Where the platform's ES256 signing key comes from: PLATFORM_SIGNING_KEY_FILE (required in production), else generated under the data directory. */
export interface SigningKeyConfig {
  path: string;
  createIfMissing: boolean;
}

export function loadSigningKeyConfig(env: Env, dataDir: string, production: boolean): SigningKeyConfig {
  const parsed = parseEnv(z.object({ PLATFORM_SIGNING_KEY_FILE: z.string().min(1).optional() }), env);
  if (production && !parsed.PLATFORM_SIGNING_KEY_FILE) {
    throw new ConfigError(['PLATFORM_SIGNING_KEY_FILE: required in production (a private P-256 JWK; see the README)']);
  }
  return { path: parsed.PLATFORM_SIGNING_KEY_FILE ?? devSigningKeyPath(dataDir), createIfMissing: !parsed.PLATFORM_SIGNING_KEY_FILE };
}

/**
 * The erasure ledger (shared/erasure-ledger.ts): ERASURE_LEDGER_FILE, else under the data directory.
 * It must survive database restores, so in production it lives on its own volume.
 */
export interface ErasureLedgerConfig {
  path: string;
  signingKey: SigningKeyConfig;
  /** ERASURE_LEDGER_INIT=true: begin a new ledger although the stores hold data (after a deliberate decision). */
  allowInit: boolean;
}

export function loadErasureLedgerConfig(env: Env, dataDir: string, production: boolean): ErasureLedgerConfig {
  const parsed = parseEnv(
    z.object({ ERASURE_LEDGER_FILE: z.string().min(1).optional(), ERASURE_LEDGER_INIT: z.enum(['true', 'false']).default('false') }),
    env,
  );
  if (production && !parsed.ERASURE_LEDGER_FILE) {
    throw new ConfigError(['ERASURE_LEDGER_FILE: required in production (a file on a volume that database restores never overwrite)']);
  }
  return {
    path: parsed.ERASURE_LEDGER_FILE ?? join(dataDir, 'erasure-ledger.jsonl'),
    signingKey: loadSigningKeyConfig(env, dataDir, production),
    allowInit: parsed.ERASURE_LEDGER_INIT === 'true',
  };
}
