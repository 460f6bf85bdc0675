import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';

type Fetcher = NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'];
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { Readable } from 'node:stream';
import type { Express, Request, Response as ExpressResponse } from 'express';
import { GraphQLError } from 'graphql';
import { bearerToken, createTokenVerifier, type TokenVerifier, type VerifiedToken } from '../../shared/auth/verifier';
import { SERVICE_NAMES, type ServiceName } from '../../shared/config';
import { isErrorCode, privgraphError, unauthenticated } from '../../shared/errors';
import { DEADLINE_HEADER, deadlineExceeded, deadlineOf, isDeadlineError, type Deadline } from '../../shared/deadline';
import { componentLogger } from '../../shared/logger';
import { PURPOSE_HEADER, REQUEST_ID_HEADER } from '../../shared/pii';
import { requestIdFrom } from '../../shared/request';
import { clientAddressOf, forwardingHeaders } from '../../shared/origin';
import { startGraphqlService } from '../../shared/server/graphql-service';
import { JWKS_PATH } from '../../shared/signing-key';
import type { GatewayConfig } from './config';
import { loadSupergraph } from './supergraph';
import { mountLogtoWebhook } from './logto-webhook';
import { createTenantPolicyClient } from '../../shared/tenant-policy-client';
import { CORS_PATHS, corsMiddleware, createOriginCheck } from './cors';
import { createOperationLookup, persistedOperationsMiddleware } from './persisted-operations';
import { createPolicyLookup, createSafelist } from './safelist';
import { createRateLimit } from './rate-limit';
import { operationCost } from '../../shared/limits/cost';
import { platformAdminIntrospection } from './introspection';
import { mountSandbox } from './sandbox';
import { operationResolution } from './operation-resolution';

export interface GatewayContext {
  authorization: string | undefined;
  purpose: string | undefined;
  requestId: string;
  /**
   * The client's address (the rate limit's key for anonymous requests): the TCP peer, or behind a proxy
   * listed in TRUSTED_PROXIES the first untrusted hop of its forwarding header (shared/origin.ts).
   */
  peerAddress: string | undefined;
  /** The client's User-Agent, passed on so each subgraph records its class (never the string) in audit events. */
  userAgent: string | undefined;
  /** The caller's token as verified once for this request; undefined without one. The plugins read it. */
  verified: VerifiedToken | undefined;
  /** REQUEST_DEADLINE_MS from arrival, or less if the client asked (x-privgraph-deadline-ms); docs/security.md#deadlines. */
  deadline: Deadline;
}

const REFUSAL_STATUS: Partial<Record<string, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, DEPENDENCY_UNAVAILABLE: 503 };

function refusalHeaders(response: { headers: { get(name: string): string | null } }): Map<string, string> {
  const challenge = response.headers.get('www-authenticate');
  return new Map(challenge ? [['www-authenticate', challenge]] : []);
}

/**
 * The request's one AbortSignal reaches Node's fetch through the base class, which builds the fetch's init itself:
 * willSendRequest files the signal under a key in a header of its own, which the fetcher takes out before sending.
 */
const FETCH_SIGNAL_HEADER = 'x-privgraph-gateway-fetch';
const pendingSignals = new Map<string, AbortSignal>();
let signalSeq = 0;

function signalKeyFor(deadline: Deadline): string {
  const key = String((signalSeq = (signalSeq + 1) % Number.MAX_SAFE_INTEGER));
  pendingSignals.set(key, deadline.signal);
  return key;
}

/** Node's fetch with the request's deadline signal (see FETCH_SIGNAL_HEADER). */
const deadlineFetch = ((url: string, init: { headers?: Record<string, string> } & Record<string, unknown>) => {
  const headers = init.headers;
  const key = headers?.[FETCH_SIGNAL_HEADER];
  if (!headers || key === undefined) return fetch(url, init as RequestInit);
  delete headers[FETCH_SIGNAL_HEADER];
  const signal = pendingSignals.get(key);
  pendingSignals.delete(key);
  return fetch(url, { ...(init as RequestInit), signal });
}) as unknown as Fetcher;

/** Subgraphs enforce everything themselves; the gateway forwards who is asking, why, and under which request id. */
class ForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>) {
    const headers = request.http?.headers;
    if (!headers || !context) return;
    if (context.authorization) headers.set('authorization', context.authorization);
    if (context.purpose) headers.set(PURPOSE_HEADER, context.purpose);
    if (context.requestId) headers.set(REQUEST_ID_HEADER, context.requestId);
    // The budget left, relative (no clock is shared with the subgraph); whatever the client sent is replaced.
    if (context.deadline) {
      headers.set(DEADLINE_HEADER, context.deadline.header());
      headers.set(FETCH_SIGNAL_HEADER, signalKeyFor(context.deadline));
    }
    forwardOrigin(headers, context.peerAddress, context.userAgent);
  }

  /**
   * An aborted fetch (the request's deadline passed) answers DEADLINE_EXCEEDED, and a subgraph that cannot be reached
   * (fetch's network failure) DEPENDENCY_UNAVAILABLE, instead of a masked INTERNAL_SERVER_ERROR.
   */
  override didEncounterError(...args: Parameters<RemoteGraphQLDataSource<GatewayContext>['didEncounterError']>): void {
    const [error] = args;
    if (isDeadlineError(error)) throw deadlineExceeded();
    // By name, not instanceof: fetch's errors may come from another realm (a test runner's sandbox).
    if (error?.name === 'TypeError' && error.message === 'fetch failed') {
      throw privgraphError('DEPENDENCY_UNAVAILABLE', 'A service this request needs cannot be reached; nothing was released. Try again shortly.');
    }
    super.didEncounterError(...args);
  }

  /**
   * A subgraph refuses a whole request with a 4xx and a coded GraphQL error (bad variables, bad token);
   * keep its code and message instead of the bare "400: Bad Request" the base class makes of it.
   */
  override async errorFromResponse(response: Parameters<RemoteGraphQLDataSource['errorFromResponse']>[0]) {
    const fallback = await super.errorFromResponse(response);
    const body = fallback.extensions.response as { body?: { errors?: { message?: unknown; extensions?: Record<string, unknown> }[] } };
    const first = body?.body?.errors?.[0];
    const code = first?.extensions?.code;
    if (!isErrorCode(code) || typeof first?.message !== 'string') return fallback;
    // A refusal of the caller keeps its status (one convention on every port, docs/security.md "Tokens").
    const http = REFUSAL_STATUS[code] === response.status ? { http: { status: response.status, headers: refusalHeaders(response) } } : {};
    return new GraphQLError(first.message, {
      extensions: { code, ...(typeof first.extensions?.field === 'string' ? { field: first.extensions.field } : {}), ...http },
    });
  }
}

/** Rejects a present but invalid token before any planning (the subgraphs verify it again). */
async function gatewayContext(req: Request, verifier: TokenVerifier): Promise<GatewayContext> {
  const authorization = req.header('authorization');
  const token = bearerToken(authorization);
  if (token === null) throw unauthenticated('The Authorization header must be "Bearer <token>"');
  const verified = token === undefined ? undefined : await verifier.verify(token);
  const deadline = deadlineOf(req);
  if (deadline.expired()) throw deadlineExceeded({ httpStatus: 504 });
  return {
    deadline,
    authorization,
    purpose: req.header(PURPOSE_HEADER),
    requestId: requestIdFrom(req),
    peerAddress: clientAddressOf(req),
    userAgent: req.header('user-agent'),
    verified,
  };
}

/**
 * The gateway is a proxy for the subgraphs: it tells them the client it determined, replacing whatever
 * forwarding headers the client sent (a subgraph believes them only from a proxy it lists, docs/security.md#request-origin).
 * Only that one hop: the subgraphs then need to trust the gateway alone, not the proxies in front of it.
 */
function forwardOrigin(headers: { set(name: string, value: string): void; delete(name: string): void }, clientAddress: string | undefined, userAgent: string | undefined) {
  const forwarding = forwardingHeaders(clientAddress);
  for (const name of ['x-forwarded-for', 'forwarded'] as const) {
    if (forwarding) headers.set(name, forwarding[name]);
    else headers.delete(name);
  }
  // Without one, fetch would send its own ("node"), and the subgraph would record the gateway's class.
  headers.set('user-agent', userAgent ?? '');
}

const requestIdEcho: ApolloServerPlugin<GatewayContext> = {
  async requestDidStart({ contextValue }) {
    return {
      async willSendResponse({ response }) {
        response.http.headers.set(REQUEST_ID_HEADER, contextValue.requestId);
      },
    };
  },
};

export async function startGateway(config: GatewayConfig, options: { subgraphUrls?: Partial<Record<ServiceName, string>> } = {}) {
  const logger = componentLogger('gateway');
  const production = config.common.env === 'production';
  const urls = { ...config.common.internal.endpoints, ...options.subgraphUrls };
  const gateway = new ApolloGateway({
    supergraphSdl: loadSupergraph(),
    // Node's own fetch: the default fetcher (make-fetch-happen) builds an Error stack per request to detect TLS.
    buildService: ({ name }) =>
      new ForwardingDataSource({ url: `${urls[name as ServiceName].replace(/\/+$/, '')}/graphql`, fetcher: deadlineFetch }),
    logger,
  });
  const verifier = createTokenVerifier(config.common.auth);
  // Persisted operations, safelisting and CORS read tenant settings from identity (docs/safelisting.md, docs/cors.md)
  const tenantPolicy = createTenantPolicyClient({ ...config.common.internal, endpoints: { ...config.common.internal.endpoints, identity: urls.identity } });
  // One policy cache for the safelist and the rate limit: one identity call per tenant per TENANT_POLICY_CACHE_MS.
  const policyFor = createPolicyLookup(tenantPolicy, { cacheMs: config.safelist.policyCacheMs, logger });
  const safelist = createSafelist({ client: tenantPolicy, settings: config.safelist, logger, policyFor });
  const rateLimit = await createRateLimit({
    settings: config.rateLimit,
    policyFor,
    cost: ({ schema, document, request, operationName }) => operationCost(schema, document, request.variables, operationName),
    logger,
  });

  const running = await startGraphqlService<GatewayContext>({
    name: 'gateway',
    http: config.common.http,
    logger,
    production,
    limits: config.limits, // the same limits as every subgraph (docs/security.md#limits)
    introspection: true, // in production for platform admins only (platformAdminIntrospection)
    gateway,
    plugins: [
      requestIdEcho,
      operationResolution,
      rateLimit.plugin,
      safelist.plugin,
      ...(production ? [platformAdminIntrospection()] : []),
      ApolloServerPluginLandingPageDisabled(), // the offline sandbox serves browsers instead (docs/sandbox.md)
    ],
    context: (req) => gatewayContext(req, verifier),
    graphqlMiddleware: [persistedOperationsMiddleware(createOperationLookup(tenantPolicy, { missTtlMs: config.safelist.policyCacheMs, logger }))],
    onStop: async () => {
      await safelist.stop();
      await rateLimit.stop();
    },
    publicRoutes: (app) => {
      app.use(CORS_PATHS, corsMiddleware(config.cors, createOriginCheck({ configured: config.cors.origins, client: tenantPolicy, cacheMs: config.safelist.policyCacheMs, logger })));
      mountSandbox(app, { enabled: config.sandboxEnabled });
      publishJwks(app, urls.audit);
      proxyAuditExport(app, urls.audit);
      proxyDataExport(app, urls.identity); // data export download (docs/data-export.md)
      // Logto webhook: identity's internal API at the address the gateway was given for identity.
      mountLogtoWebhook(app, { signingKey: config.logtoWebhookSigningKey, internal: { ...config.common.internal, endpoints: { ...config.common.internal.endpoints, identity: urls.identity } } });
    },
    ready: async () => {
      const answers = await Promise.all(
        SERVICE_NAMES.map((name) =>
          fetch(`${urls[name].replace(/\/+$/, '')}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false),
        ),
      );
      return answers.every(Boolean);
    },
  });
  logger.info({ url: running.graphqlUrl }, 'gateway listening');
  return running;
}

/**
 * GET /.well-known/jwks.json: the platform's public signing key, as the audit service publishes it,
 * so anyone can verify signed audit checkpoints offline with a stock JOSE library. Cached 5 minutes.
 */
function publishJwks(app: Express, auditUrl: string) {
  let cached: { body: unknown; until: number } | undefined;
  app.get(JWKS_PATH, async (_req, res) => {
    if (!cached || cached.until < Date.now()) {
      try {
        const response = await fetch(`${auditUrl.replace(/\/+$/, '')}${JWKS_PATH}`, { signal: AbortSignal.timeout(2000) });
        if (!response.ok) throw new Error(`audit answered ${response.status}`);
        cached = { body: await response.json(), until: Date.now() + 300_000 };
      } catch {
        res.status(503).json({ error: 'DEPENDENCY_UNAVAILABLE' });
        return;
      }
    }
    res.set('cache-control', 'public, max-age=300').json(cached.body);
  });
}

/**
 * GET /audit/export?format=jsonl|csv&since=…&until=…: streamed from the audit service, which checks the
 * token and scope itself; the gateway passes the bytes through without buffering them.
 */
function proxyAuditExport(app: Express, auditUrl: string) {
  app.get('/audit/export', (req, res) => {
    const query = new URLSearchParams(req.query as Record<string, string>).toString();
    return streamFrom(req, res, `${auditUrl.replace(/\/+$/, '')}/export?${query}`, 'audit');
  });
}

// Data export download
/**
 * GET /privacy/export/:token: the subject's one-time data export, from identity, which checks the link
 * and the subject's own token itself; the gateway passes the bytes through.
 */
function proxyDataExport(app: Express, identityUrl: string) {
  app.get('/privacy/export/:token', (req, res) =>
    streamFrom(req, res, `${identityUrl.replace(/\/+$/, '')}/privacy/export/${encodeURIComponent(String(req.params.token))}`, 'identity'),
  );
}

/**
 * fetch whose connect and response headers must come by the deadline (a stalled upstream cannot hold the client);
 * the body is not bounded by it. The client going away aborts the upstream request too.
 */
async function fetchHeadersWithin(url: string, init: RequestInit, deadline: Deadline, res: ExpressResponse): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('upstream headers timeout', 'TimeoutError')), deadline.remainingMs());
  const onClose = () => controller.abort();
  res.once('close', onClose);
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

/** Forwards a download to the service that checks the caller itself, streaming the answer through unbuffered. */
async function streamFrom(req: Request, res: ExpressResponse, url: string, service: 'audit' | 'identity') {
  let upstream: Response;
  try {
    const headers = new Headers({ authorization: req.header('authorization') ?? '', [REQUEST_ID_HEADER]: requestIdFrom(req) });
    forwardOrigin(headers, clientAddressOf(req), req.header('user-agent'));
    // Until the upstream's headers arrive the request's deadline applies; the body then streams as long as it takes.
    upstream = await fetchHeadersWithin(url, { headers }, deadlineOf(req), res);
  } catch (error) {
    if (isDeadlineError(error)) {
      res.status(504).json({ errors: [{ message: `The ${service} service did not answer in time`, extensions: { code: 'DEADLINE_EXCEEDED' } }] });
      return;
    }
    res.status(503).json({ errors: [{ message: `The ${service} service is unavailable`, extensions: { code: 'DEPENDENCY_UNAVAILABLE' } }] });
    return;
  }
  res.status(upstream.status);
  for (const header of ['content-type', 'content-disposition', 'cache-control', 'www-authenticate']) {
    const value = upstream.headers.get(header);
    if (value) res.set(header, value);
  }
  if (!upstream.body) {
    res.end();
    return;
  }
  Readable.fromWeb(upstream.body as import('node:stream/web').ReadableStream).on('error', () => res.destroy()).pipe(res);
}
