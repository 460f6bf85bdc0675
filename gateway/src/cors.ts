import cors from 'cors';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../shared/logger';
import { DEADLINE_HEADER } from '../../shared/deadline';
import { PURPOSE_HEADER, REQUEST_ID_HEADER } from '../../shared/pii';
import { JWKS_PATH } from '../../shared/signing-key';
import type { TenantPolicyClient } from '../../shared/tenant-policy-client';
import type { CorsSettings } from './config';

/** The gateway's routes a browser frontend calls (the GraphQL endpoint and the public GET downloads). */
export const CORS_PATHS = ['/graphql', JWKS_PATH, '/audit/export', '/privacy/export'];

/**
 * What a browser may send: the bearer token, JSON, the purpose, request id and deadline, and the headers Apollo's
 * CSRF prevention accepts as proof of a preflighted request (`apollo-require-preflight`,
 * `x-apollo-operation-name`), so a GET from another origin can pass it too.
 */
export const CORS_ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  PURPOSE_HEADER,
  REQUEST_ID_HEADER,
  DEADLINE_HEADER,
  'apollo-require-preflight',
  'x-apollo-operation-name',
];

export type OriginCheck = (origin: string) => Promise<boolean>;

/**
 * CORS_ORIGINS ∪ every tenant's allowed origins (from identity, reread after TENANT_POLICY_CACHE_MS).
 * When identity does not answer, the last union read stays in force (and only CORS_ORIGINS before the
 * first read): CORS decides which pages may read answers, while every request is still authorized by
 * its token, so a briefly stale list is no hole.
 */
export function createOriginCheck(deps: { configured: string[]; client: Pick<TenantPolicyClient, 'origins'>; cacheMs: number; logger: Logger }): OriginCheck {
  const configured = new Set(deps.configured);
  let tenants = new Set<string>();
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;
  const refresh = () => {
    reading ??= deps.client
      .origins()
      .then(
        (origins) => {
          tenants = new Set(origins);
          readAt = Date.now();
        },
        (error: unknown) => {
          readAt = Date.now(); // asked again after the cache time, not on every request while identity is down
          deps.logger.warn({ err: { name: (error as Error)?.name } }, 'tenant origins unreadable; the last list read stays in force');
        },
      )
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };
  return async (origin) => {
    if (configured.has(origin)) return true;
    if (Date.now() - readAt >= deps.cacheMs) await refresh();
    return tenants.has(origin);
  };
}

/**
 * Exact-origin CORS (docs/cors.md) with the `cors` package: an allowed origin is echoed in
 * Access-Control-Allow-Origin, never `*`, and no credentials (privgraph uses bearer tokens, not
 * cookies). A foreign origin gets no CORS header at all, and its preflight a plain 204 the browser
 * refuses; `Vary: Origin` on every answer so no cache serves one origin's answer to another.
 */
export function corsMiddleware(settings: CorsSettings, isAllowed: OriginCheck): RequestHandler {
  const allow = cors({
    origin: true, // reflect the request's origin, which was checked below
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    // A browser client may read the rate limit's answer (docs/security.md#rate-limits), not only the request id.
    exposedHeaders: [REQUEST_ID_HEADER, 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'],
    credentials: false,
    maxAge: settings.maxAgeSeconds,
    optionsSuccessStatus: 204,
  });
  return async (req: Request, res: Response, next: NextFunction) => {
    res.vary('Origin');
    const origin = req.header('origin');
    let allowed = false;
    try {
      allowed = origin !== undefined && (await isAllowed(origin));
    } catch {
      allowed = false;
    }
    if (allowed) return allow(req, res, next);
    if (req.method === 'OPTIONS') {
      res.status(204).set('content-length', '0').end();
      return;
    }
    next();
  };
}
