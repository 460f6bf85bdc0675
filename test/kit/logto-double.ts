import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-process HTTP double of the two Logto endpoints privgraph calls, following Logto's documented
 * behaviour (docs.logto.io "Interact with Management API"; core routes admin-user/basics.ts):
 * - `POST /oidc/token`: client credentials grant, the M2M app authenticated with HTTP Basic
 *   (`client_secret_basic`), `resource` = the Management API indicator and `scope=all`; answers
 *   `{ access_token, expires_in, token_type: 'Bearer', scope: 'all' }`, 401 `invalid_client` for bad
 *   credentials, 400 `invalid_target` / `invalid_scope` for a wrong resource or scope;
 * - `DELETE /api/users/:userId`: bearer token required (401 otherwise), 204 when the user existed,
 *   404 for an unknown one.
 * - `GET /oidc/jwks`: the issuer's public keys, when given (so the double can stand in as the token issuer).
 * Faults: `down` (connections dropped), `fail500(n)` (the next n requests answer 500).
 */
export interface LogtoDouble {
  endpoint: string;
  appId: string;
  appSecret: string;
  resource: string;
  /** Users that exist at this Logto (ids); deleteUser removes them. */
  users: Set<string>;
  /** Every request served, in order (method and path; token calls as `POST /oidc/token`). */
  calls: { method: string; path: string; status: number }[];
  tokensIssued(): number;
  setDown(down: boolean): void;
  fail500(times: number): void;
  /** Invalidates every issued token (as a restarted Logto with rotated keys would). */
  revokeTokens(): void;
  stop(): Promise<void>;
}

export async function startLogtoDouble(options: { resource?: string; expiresIn?: number; jwks?: unknown } = {}): Promise<LogtoDouble> {
  const appId = randomBytes(9).toString('hex');
  const appSecret = randomBytes(24).toString('base64url');
  const resource = options.resource ?? 'https://default.logto.app/api';
  const expiresIn = options.expiresIn ?? 3600;
  const users = new Set<string>();
  const calls: LogtoDouble['calls'] = [];
  let tokens = new Set<string>();
  let issued = 0;
  let down = false;
  let failures = 0;

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const answer = (res: ServerResponse, status: number, body?: unknown) => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record = (status: number) => calls.push({ method: req.method ?? '', path: url.pathname, status });
    if (down) {
      req.socket.destroy();
      return;
    }
    const body = await readBody(req);
    if (failures > 0) {
      failures -= 1;
      record(500);
      answer(res, 500, { message: 'Internal server error', code: 'internal_server_error' });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/oidc/jwks' && options.jwks) {
      record(200);
      answer(res, 200, options.jwks);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/oidc/token') {
      const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
      const [id, secret] = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8').split(':').map(decodeURIComponent) : [];
      if (id !== appId || secret !== appSecret) {
        record(401);
        answer(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' });
        return;
      }
      const form = new URLSearchParams(body);
      if (form.get('grant_type') !== 'client_credentials') {
        record(400);
        answer(res, 400, { error: 'unsupported_grant_type' });
        return;
      }
      if (form.get('resource') !== resource) {
        record(400);
        answer(res, 400, { error: 'invalid_target' });
        return;
      }
      if (form.get('scope') !== 'all') {
        record(400);
        answer(res, 400, { error: 'invalid_scope' });
        return;
      }
      const token = randomBytes(24).toString('base64url');
      tokens.add(token);
      issued += 1;
      record(200);
      answer(res, 200, { access_token: token, expires_in: expiresIn, token_type: 'Bearer', scope: 'all' });
      return;
    }
    const userMatch = /^\/api\/users\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && userMatch) {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer || !tokens.has(bearer)) {
        record(401);
        answer(res, 401, { message: 'Unauthorized', code: 'auth.unauthorized' });
        return;
      }
      const userId = decodeURIComponent(userMatch[1]);
      if (!users.delete(userId)) {
        record(404);
        answer(res, 404, { message: 'Entity not found', code: 'entity.not_exists_with_id' });
        return;
      }
      record(204);
      answer(res, 204);
      return;
    }
    record(404);
    answer(res, 404, { message: 'Not found' });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    appId,
    appSecret,
    resource,
    users,
    calls,
    tokensIssued: () => issued,
    setDown(value) {
      down = value;
    },
    fail500(times) {
      failures = times;
    },
    revokeTokens() {
      tokens = new Set();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A Logto hook request as Logto sends it: the JSON body and `logto-signature-sha-256` = hex HMAC-SHA-256 of it. */
export function signLogtoWebhook(signingKey: string, payload: unknown): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(payload);
  return {
    body,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Logto (https://logto.io/)',
      'logto-signature-sha-256': createHmac('sha256', signingKey).update(body).digest('hex'),
    },
  };
}

/** A Logto user data-hook payload (`User.Created`, `User.Deleted`, `User.SuspensionStatus.Updated`) with a fake user. */
export function logtoUserHook(
  event: string,
  userId: string,
  options: { hookId?: string; createdAt?: string; isSuspended?: boolean } = {},
): Record<string, unknown> {
  return {
    event,
    createdAt: options.createdAt ?? new Date().toISOString(),
    hookId: options.hookId ?? 'hook-privgraph',
    userAgent: 'node',
    path: `/users/${userId}`,
    method: event === 'User.Deleted' ? 'DELETE' : event === 'User.Created' ? 'POST' : 'PATCH',
    status: event === 'User.Deleted' ? 204 : 200,
    params: { userId },
    matchedRoute: '/users/:userId',
    data: {
      id: userId,
      username: null,
      primaryEmail: `${userId}@canary.example`,
      primaryPhone: null,
      name: `Canary ${userId}`,
      avatar: null,
      customData: {},
      identities: {},
      lastSignInAt: null,
      createdAt: Date.now(),
      updatedAt: Date.now(),
      profile: {},
      applicationId: null,
      isSuspended: options.isSuspended ?? false,
    },
  };
}
