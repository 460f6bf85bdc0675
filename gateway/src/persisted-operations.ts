import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { LRUCache } from 'lru-cache';
import type { ErrorCode } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { REQUEST_ID_HEADER } from '../../shared/pii';
import { requestIdFrom } from '../../shared/request';
import { OPERATION_ID_PATTERN, operationIdOf, type TenantPolicyClient } from '../../shared/tenant-policy-client';

/** Registered bodies kept in memory, by bytes: a body never changes for its id, so a hit is always right. */
const BODY_CACHE_BYTES = 16 * 1024 * 1024;
const BODY_TTL_MS = 10 * 60_000;

interface PersistedQueryExtension {
  version?: unknown;
  sha256Hash?: unknown;
}

type Resolution = { kind: 'query'; query: string } | { kind: 'refused'; status: number; code: ErrorCode; message: string };

/** The registered body with that id, cached; null when no tenant registered it (or identity did not answer). */
export type OperationLookup = (operationId: string) => Promise<string | null>;

export function createOperationLookup(client: Pick<TenantPolicyClient, 'operationBody'>, options: { missTtlMs: number; logger: Logger }): OperationLookup {
  const bodies = new LRUCache<string, string>({ maxSize: BODY_CACHE_BYTES, sizeCalculation: (body) => Math.max(1, body.length), ttl: BODY_TTL_MS });
  const misses = new LRUCache<string, true>({ max: 10_000, ttl: Math.max(1, options.missTtlMs) });
  return async (operationId) => {
    const cached = bodies.get(operationId);
    if (cached !== undefined) return cached;
    if (options.missTtlMs > 0 && misses.has(operationId)) return null;
    let body: string | null;
    try {
      body = await client.operationBody(operationId);
    } catch (error) {
      // The client resends the full query, which the safelist then judges (failing closed where it must).
      options.logger.warn({ operationId, err: { name: (error as Error)?.name } }, 'persisted operation lookup failed; answered as not found');
      return null;
    }
    // Defence in depth: only ever serve a body that is what its id says.
    if (body === null || operationIdOf(body) !== operationId) {
      if (options.missTtlMs > 0) misses.set(operationId, true);
      return null;
    }
    bodies.set(operationId, body);
    return body;
  };
}

/**
 * APQ-shaped persisted operations (`extensions.persistedQuery = { version: 1, sha256Hash }`):
 * - hash only: answered from registered operations (any tenant's: the id is the body's SHA-256, so the
 *   same id is the same text); unknown → PERSISTED_QUERY_NOT_FOUND, and the client resends with `query`;
 * - query with hash: the query must hash to it (SHA-256 of the exact text, no normalization).
 * Either way Apollo then sees a plain `query`: its own APQ cache is off (shared/server/graphql-service.ts).
 */
async function resolve(query: unknown, extension: PersistedQueryExtension, lookup: OperationLookup): Promise<Resolution> {
  const { version, sha256Hash } = extension;
  if (version !== 1) return { kind: 'refused', status: 400, code: 'BAD_REQUEST', message: 'extensions.persistedQuery.version must be 1' };
  if (typeof sha256Hash !== 'string' || !OPERATION_ID_PATTERN.test(sha256Hash)) {
    return { kind: 'refused', status: 400, code: 'BAD_REQUEST', message: 'extensions.persistedQuery.sha256Hash must be a lower-case hex SHA-256' };
  }
  if (typeof query === 'string') {
    if (operationIdOf(query) !== sha256Hash) {
      return { kind: 'refused', status: 400, code: 'BAD_REQUEST', message: 'The query does not hash to extensions.persistedQuery.sha256Hash (SHA-256 of the exact text)' };
    }
    return { kind: 'query', query };
  }
  if (query !== undefined && query !== null) return { kind: 'refused', status: 400, code: 'BAD_REQUEST', message: 'query must be a string' };
  const body = await lookup(sha256Hash);
  if (body === null) return { kind: 'refused', status: 200, code: 'PERSISTED_QUERY_NOT_FOUND', message: 'PersistedQueryNotFound' };
  return { kind: 'query', query: body };
}

function refuse(req: Request, res: Response, refusal: Extract<Resolution, { kind: 'refused' }>) {
  res
    .status(refusal.status)
    .set(REQUEST_ID_HEADER, requestIdFrom(req))
    .set('cache-control', 'private, no-cache, must-revalidate')
    .json({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] });
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Express middleware on /graphql, after the JSON body parser (POST) and for GET's `extensions` parameter. */
export function persistedOperationsMiddleware(lookup: OperationLookup): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      if (req.method === 'POST') {
        const body: unknown = req.body;
        if (!isObject(body) || !isObject(body.extensions) || body.extensions.persistedQuery === undefined) return next();
        const persisted = body.extensions.persistedQuery;
        const resolution = await resolve(body.query, isObject(persisted) ? persisted : {}, lookup);
        if (resolution.kind === 'refused') return refuse(req, res, resolution);
        const { persistedQuery: _done, ...rest } = body.extensions;
        body.query = resolution.query;
        body.extensions = rest;
        return next();
      }
      if (req.method === 'GET') {
        const url = new URL(req.url, 'http://gateway.invalid');
        const raw = url.searchParams.get('extensions');
        if (raw === null) return next();
        if (raw.length > 2048) return refuse(req, res, { kind: 'refused', status: 400, code: 'BAD_REQUEST', message: 'The extensions parameter is too long' });
        let extensions: unknown;
        try {
          extensions = JSON.parse(raw);
        } catch {
          return next(); // Apollo answers malformed parameters itself
        }
        if (!isObject(extensions) || extensions.persistedQuery === undefined) return next();
        const persisted = extensions.persistedQuery;
        const resolution = await resolve(url.searchParams.get('query') ?? undefined, isObject(persisted) ? persisted : {}, lookup);
        if (resolution.kind === 'refused') return refuse(req, res, resolution);
        const { persistedQuery: _done, ...rest } = extensions;
        url.searchParams.set('query', resolution.query);
        if (Object.keys(rest).length > 0) url.searchParams.set('extensions', JSON.stringify(rest));
        else url.searchParams.delete('extensions');
        req.url = `${url.pathname}${url.search}`;
        return next();
      }
      return next();
    } catch (error) {
      return next(error);
    }
  };
}
