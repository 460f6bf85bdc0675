import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { DependencyUnavailableError } from './errors';

/**
 * Service-to-service calls inside the platform (directory, consent decisions, audit ingest).
 * They carry a shared secret, never the caller's data; they are not part of the public graph.
 */
export const INTERNAL_TOKEN_HEADER = 'x-privgraph-internal-token';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function requireInternalToken(token: string) {
  const expected = digest(token);
  return (req: Request, res: Response, next: NextFunction) => {
    const presented = req.header(INTERNAL_TOKEN_HEADER);
    if (typeof presented !== 'string' || !timingSafeEqual(digest(presented), expected)) {
      res.status(401).json({ error: 'UNAUTHENTICATED' });
      return;
    }
    next();
  };
}

export interface InternalClientOptions {
  baseUrl: string;
  token: string;
  timeoutMs: number;
  dependency: DependencyUnavailableError['dependency'];
}

export interface InternalClient {
  post<T>(path: string, body: unknown): Promise<T>;
}

export function createInternalClient(options: InternalClientOptions): InternalClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  return {
    async post<T>(path: string, body: unknown): Promise<T> {
      let response: globalThis.Response;
      try {
        response = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: options.token },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch {
        throw new DependencyUnavailableError(options.dependency, `${options.dependency} service unreachable`);
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new DependencyUnavailableError(options.dependency, `${options.dependency} service answered ${response.status}`);
      }
      return (await response.json()) as T;
    },
  };
}

/**
 * An internal JSON endpoint: validates the body with zod (400 on mismatch), runs the handler,
 * and never returns internals on failure.
 */
export function internalHandler<S extends import('zod').ZodType, R>(
  schema: S,
  handler: (body: import('zod').infer<S>) => Promise<R>,
  logger: import('./logger').Logger,
) {
  return async (req: Request, res: Response) => {
    const parsed = schema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'BAD_REQUEST' });
      return;
    }
    try {
      res.json(await handler(parsed.data));
    } catch (error) {
      const unavailable = error instanceof DependencyUnavailableError;
      logger.error({ err: { name: (error as Error)?.name, code: (error as { code?: unknown })?.code }, path: req.path }, 'internal request failed');
      res.status(unavailable ? 503 : 500).json({ error: unavailable ? 'UNAVAILABLE' : 'INTERNAL' });
    }
  };
}
