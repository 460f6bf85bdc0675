import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { InternalApiConfig } from './config';
import { DEADLINE_HEADER, deadlineExceeded, type Deadline } from './deadline';
import { DependencyUnavailableError } from './errors';

/**
 * Service-to-service calls inside the platform (directory, consent decisions, audit ingest).
 * They carry a shared secret, never the caller's data; they are not part of the public graph.
 */
export const INTERNAL_TOKEN_HEADER = 'x-privgraph-internal-token';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** A constant-time comparison of a presented header value with the shared internal token. */
export function internalTokenCheck(token: string): (presented: string | undefined) => boolean {
  const expected = digest(token);
  return (presented) => typeof presented === 'string' && timingSafeEqual(digest(presented), expected);
}

export function requireInternalToken(token: string) {
  const holdsToken = internalTokenCheck(token);
  return (req: Request, res: Response, next: NextFunction) => {
    if (!holdsToken(req.header(INTERNAL_TOKEN_HEADER))) {
      res.status(401).json({ error: 'UNAUTHENTICATED' });
      return;
    }
    next();
  };
}

export interface InternalClientOptions {
  /** Read at every call (cheaply), so services started together can learn each other's addresses after start. */
  baseUrl: string | (() => string);
  token: string;
  timeoutMs: number;
  dependency: DependencyUnavailableError['dependency'];
}

/** The dependency each service is, for errors that say which one failed. */
const DEPENDENCY_OF = { identity: 'directory', pii: 'vault', consent: 'consent', audit: 'audit' } as const;

/** A client for another service's internal API, from the shared configuration. */
export function internalClientFor(config: InternalApiConfig, service: keyof typeof DEPENDENCY_OF, options: { timeoutMs?: number } = {}): InternalClient {
  return createInternalClient({
    baseUrl: () => config.endpoints[service],
    token: config.token,
    timeoutMs: options.timeoutMs ?? config.timeoutMs,
    dependency: DEPENDENCY_OF[service],
  });
}

export interface InternalCallOptions {
  /**
   * The calling request's deadline: the call sends the budget left (x-privgraph-deadline-ms) and waits at most
   * min(timeoutMs, remaining); one that cannot start in time fails with DEADLINE_EXCEEDED.
   */
  deadline?: Deadline;
}

export interface InternalClient {
  post<T>(path: string, body: unknown, call?: InternalCallOptions): Promise<T>;
}

/**
 * A keep-alive JSON client on node:http: these calls sit on every PII request, and fetch's
 * WHATWG stream machinery costs several times more CPU per call than a plain request.
 */
export function createInternalClient(options: InternalClientOptions): InternalClient {
  let resolved: { from: string; base: URL; prefix: string } | undefined;
  // Read at every call, parsed only when it changes: a service started before a peer (a background job
  // running at boot) must not keep the placeholder address it saw before the peer's was known.
  const target = () => {
    const from = typeof options.baseUrl === 'function' ? options.baseUrl() : options.baseUrl;
    if (resolved?.from !== from) {
      const base = new URL(from);
      resolved = { from, base, prefix: base.pathname.replace(/\/+$/, '') };
    }
    return resolved;
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const unavailable = (why: string) => new DependencyUnavailableError(options.dependency, `${options.dependency} service ${why}`);
  return {
    post<T>(path: string, body: unknown, call: InternalCallOptions = {}): Promise<T> {
      const { deadline } = call;
      let timeout = options.timeoutMs;
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: options.token };
      if (deadline) {
        const left = deadline.remainingMs();
        if (left <= 0) return Promise.reject(deadlineExceeded());
        timeout = Math.min(timeout, left);
        headers[DEADLINE_HEADER] = String(left);
      }
      const payload = Buffer.from(JSON.stringify(body));
      headers['content-length'] = payload.length;
      const { base, prefix } = target();
      return new Promise<T>((resolve, reject) => {
        const request = http.request(
          {
            host: base.hostname,
            port: base.port,
            path: `${prefix}${path}`,
            method: 'POST',
            agent,
            headers,
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('error', () => reject(unavailable('unreachable')));
            response.on('end', () => {
              clearTimeout(timer);
              if (response.statusCode !== 200) {
                reject(unavailable(`answered ${response.statusCode}`));
                return;
              }
              try {
                resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
              } catch {
                reject(unavailable('answered malformed JSON'));
              }
            });
          },
        );
        // Past the caller's deadline the call is abandoned as such, not as an unavailable peer.
        const ranOut = () => (deadline?.expired() ? deadlineExceeded() : unavailable('unreachable'));
        // A total bound on the call, answer included (http.request's own `timeout` only bounds socket idleness).
        const timer = setTimeout(() => request.destroy(new Error('timeout')), timeout);
        request.on('error', () => {
          clearTimeout(timer);
          reject(ranOut());
        });
        request.end(payload);
      });
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
      if (error instanceof InternalRefusal) {
        logger.warn({ path: req.path, code: 'FORBIDDEN' }, 'internal request refused');
        res.status(403).json({ error: 'FORBIDDEN' });
        return;
      }
      const unavailable = error instanceof DependencyUnavailableError;
      logger.error({ err: { name: (error as Error)?.name, code: (error as { code?: unknown })?.code }, path: req.path }, 'internal request failed');
      res.status(unavailable ? 503 : 500).json({ error: unavailable ? 'UNAVAILABLE' : 'INTERNAL' });
    }
  };
}

/** Thrown by an internal handler that refuses the call (e.g. a missing or invalid grant): 403, logged by code. */
export class InternalRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InternalRefusal';
  }
}
