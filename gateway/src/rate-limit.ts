import type { ApolloServerPlugin, BaseContext, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { VerifiedToken } from '../../shared/auth/verifier';
import { privgraphError } from '../../shared/errors';
import { formatIp, parseIp } from '../../shared/origin';
import type { Logger } from '../../shared/logger';
import { SCOPES } from '../../shared/pii';
import type { RateLimitSettings } from './config';
import type { PolicyLookup } from './safelist';

/** Rows of the PostgreSQL store: the library's own layout (key, points, expire), in the gateway's schema. */
const PG_TABLE = 'rate_limits';

type RateLimitContext = BaseContext & { verified: VerifiedToken | undefined; peerAddress: string | undefined };

/** What an operation costs, in points: the gateway's cost measure, so aliases and list sizes count. */
export type OperationCostFn = (requestContext: GraphQLRequestContextDidResolveOperation<RateLimitContext>) => number;

export type PrincipalKind = 'tenant' | 'member' | 'platform_admin' | 'subject' | 'anonymous';

/**
 * The budget a request is charged to. Keys are hashed: the store (possibly a shared Redis) then holds
 * no IdP subject, client id or IP address in clear. A member's budget is their own, not their shop's
 * backend's, so one staff console cannot starve the shop's server (and the other way round).
 */
export function principalKey(verified: VerifiedToken | undefined, peerAddress: string | undefined): { kind: PrincipalKind; key: string } {
  let kind: PrincipalKind;
  let parts: string[];
  if (!verified) {
    kind = 'anonymous';
    parts = [anonymousKeyOf(peerAddress)];
  } else if (verified.organizationId !== undefined) {
    const backend = verified.clientId !== undefined && verified.clientId === verified.sub;
    kind = backend ? 'tenant' : 'member';
    parts = [verified.organizationId, backend ? (verified.clientId as string) : verified.sub];
  } else {
    kind = verified.scopes.has(SCOPES.platformAdmin) ? 'platform_admin' : 'subject';
    parts = [verified.issuer, verified.sub];
  }
  const key = createHash('sha256').update(JSON.stringify([kind, ...parts])).digest('base64url');
  return { kind, key: `${kind}:${key}` };
}

/**
 * An anonymous caller's address as the limit counts it: an IPv4 address alone, an IPv6 address by its
 * /64, the smallest network a single host is given (RFC 6177, RFC 7421): a client rotating through the
 * 2^64 addresses of its own prefix would otherwise get a fresh budget with every one.
 */
export function anonymousKeyOf(peerAddress: string | undefined): string {
  const address = peerAddress === undefined ? null : parseIp(peerAddress);
  if (!address) return peerAddress ?? 'unknown';
  if (address.family === 4) return formatIp(address);
  const network = new Uint8Array(16);
  network.set(address.bytes.subarray(0, 8));
  return `${formatIp({ family: 6, bytes: network })}/64`;
}

export interface RateLimit {
  plugin: ApolloServerPlugin<RateLimitContext>;
  stop(): Promise<void>;
}

interface Limiters {
  /**
   * The limiter for a budget of `points` per window. One instance per distinct budget (the default, the
   * anonymous one and each budget a platform admin gave a tenant), all on the same store and key prefix:
   * the stores keep the points consumed per key, so a tenant whose budget changes keeps what it spent
   * in the current window (the in-memory store keeps one table per instance and starts it afresh).
   */
  limiterFor(points: number, anonymous: boolean): RateLimiterAbstract;
  close(): Promise<void>;
}

/** Distinct budgets held at once; tenants rarely get a budget of their own, so this is never reached in practice. */
const MAX_BUDGETS = 1000;

async function createLimiters(settings: RateLimitSettings, logger: Logger): Promise<Limiters> {
  const options = (points: number, keyPrefix: string) => ({ points, duration: settings.windowSeconds, keyPrefix });
  // When the shared store cannot be reached, each replica keeps limiting on its own (fail open to a
  // per-replica budget): refusing everyone while Redis or PostgreSQL is down would turn a store
  // outage into an API outage; letting everything through would make the limit one outage away.
  const insured = (points: number, keyPrefix: string) => ({ ...options(points, keyPrefix), insuranceLimiter: new RateLimiterMemory(options(points, keyPrefix)) });
  const cached = (make: (points: number, keyPrefix: string) => RateLimiterAbstract, onClose: (all: RateLimiterAbstract[]) => Promise<void> = async () => undefined) => {
    const made = new Map<string, RateLimiterAbstract>();
    return {
      limiterFor(points: number, anonymous: boolean) {
        const prefix = anonymous ? 'rla' : 'rl';
        const key = `${prefix}:${points}`;
        let limiter = made.get(key);
        if (!limiter) {
          if (made.size >= MAX_BUDGETS) made.clear();
          limiter = make(points, prefix);
          made.set(key, limiter);
        }
        return limiter;
      },
      close: () => onClose([...made.values()]),
    };
  };
  switch (settings.store) {
    case 'memory':
      return cached((points, prefix) => new RateLimiterMemory(options(points, prefix)));
    case 'redis': {
      const redis = new Redis(settings.redisUrl as string, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: settings.storeTimeoutMs,
        commandTimeout: settings.storeTimeoutMs,
      });
      let reported = false;
      redis.on('ready', () => {
        reported = false;
      });
      redis.on('error', (error: Error) => {
        if (reported) return;
        reported = true;
        logger.warn({ err: { name: error.name } }, 'rate-limit store (redis) unreachable: limiting per replica until it is back');
      });
      // Wait (bounded) for the connection, so the first requests after start are charged to the shared budget.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, settings.storeTimeoutMs * 2);
        redis.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return cached(
        (points, prefix) => new RateLimiterRedis({ ...insured(points, `privgraph:${prefix}`), storeClient: redis, rejectIfRedisNotReady: true }),
        async () => {
          redis.disconnect();
        },
      );
    }
    case 'postgres': {
      const pool = new Pool({
        connectionString: settings.databaseUrl as string,
        max: 4,
        connectionTimeoutMillis: settings.storeTimeoutMs,
        query_timeout: settings.storeTimeoutMs,
      });
      pool.on('error', (error) => logger.warn({ err: { name: error.name } }, 'rate-limit store (postgres) connection lost'));
      // The gateway owns no migrations: the table holds counters only (losing it forgets who spent what
      // in the current window), so it is created here, in a schema of its own, rather than by the library
      // at first use, where a failure would surface as an unhandled rejection.
      const schema = settings.databaseSchema;
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`).catch(ignoreConcurrentCreate);
      await pool
        .query(`CREATE TABLE IF NOT EXISTS "${schema}"."${PG_TABLE}" (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`)
        .catch(ignoreConcurrentCreate);
      return cached(
        (points, prefix) =>
          new RateLimiterPostgres({
            ...insured(points, prefix),
            storeClient: pool,
            storeType: 'pool',
            schemaName: schema,
            tableName: PG_TABLE,
            tableCreated: true,
            clearExpiredByTimeout: true,
          }),
        async (all) => {
          for (const limiter of all) clearTimeout((limiter as unknown as { _clearExpiredTimeoutId?: NodeJS.Timeout })._clearExpiredTimeoutId);
          await pool.end();
        },
      );
    }
  }
}

/** Two replicas starting together both try to create the schema and table; the loser's error is harmless. */
function ignoreConcurrentCreate(error: { code?: string }) {
  if (error.code === '23505' || error.code === '42P06' || error.code === '42P07') return;
  throw error;
}

function setHeaders(headers: Map<string, string>, limit: number, result: RateLimiterRes, refused: boolean) {
  // draft-ietf-httpapi-ratelimit-headers: RateLimit-Reset is delta seconds until the window resets.
  const reset = Math.max(1, Math.ceil(result.msBeforeNext / 1000));
  headers.set('ratelimit-limit', String(limit));
  headers.set('ratelimit-remaining', String(Math.max(0, result.remainingPoints)));
  headers.set('ratelimit-reset', String(reset));
  if (refused) headers.set('retry-after', String(reset));
}

/**
 * Rate limiting per principal (docs/security.md#rate-limits), in `didResolveOperation` like the
 * safelist: after parsing and validation, so the operation's cost is known, and before any subgraph
 * is called, so a refused request runs nothing. Each request is charged its cost (at least 1 point).
 * A tenant's backends and members get the budget a platform admin set for the tenant (setTenantRateLimit),
 * read through the gateway's tenant policy cache; the default when none is set or it cannot be read.
 */
export async function createRateLimit(deps: { settings: RateLimitSettings; cost: OperationCostFn; logger: Logger; policyFor?: PolicyLookup }): Promise<RateLimit> {
  const { settings, logger } = deps;
  const limiters = await createLimiters(settings, logger);
  const budgetOf = async (verified: VerifiedToken | undefined, request: object): Promise<number> => {
    if (!verified) return settings.anonymousPoints;
    if (verified.organizationId === undefined || !deps.policyFor) return settings.points;
    const policy = await deps.policyFor(verified.organizationId, request);
    return policy === 'unavailable' ? settings.points : (policy.rateLimitPoints ?? settings.points);
  };
  return {
    plugin: {
      async requestDidStart({ contextValue }) {
        return {
          async didResolveOperation(requestContext) {
            const { kind, key } = principalKey(contextValue.verified, contextValue.peerAddress);
            const limit = await budgetOf(contextValue.verified, contextValue);
            const points = Math.max(1, Math.ceil(deps.cost(requestContext)));
            if (points > limit) {
              // It could never run, whatever the caller waits: refused without charging, and not 429 (a
              // client that honours Retry-After would only try again).
              throw privgraphError('GRAPHQL_VALIDATION_FAILED', `This request costs ${points} points, more than the whole budget of ${limit} per ${settings.windowSeconds} s; nothing was run or charged`, {
                httpStatus: 400,
              });
            }
            const headers = requestContext.response.http.headers;
            let result: RateLimiterRes;
            try {
              result = await limiters.limiterFor(limit, kind === 'anonymous').consume(key, points);
            } catch (refusal) {
              if (!(refusal instanceof RateLimiterRes)) {
                // Only the memory limiters get here (the stores fall back to their insurance limiter).
                logger.error({ err: { name: (refusal as Error)?.name } }, 'rate limiter failed');
                throw refusal;
              }
              setHeaders(headers, limit, refusal, true);
              logger.info({ principal: kind, points }, 'rate limit reached: refused');
              throw privgraphError('RATE_LIMITED', `Rate limit reached: this request costs ${points} of ${limit} points per ${settings.windowSeconds} s; nothing was run`, {
                httpStatus: 429,
              });
            }
            setHeaders(headers, limit, result, false);
          },
        };
      },
    },
    stop: () => limiters.close(),
  };
}
