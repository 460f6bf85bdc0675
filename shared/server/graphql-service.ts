import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import type { GatewayInterface } from '@apollo/server-gateway-interface';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type Request, type Router } from 'express';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { loadGraphqlLimits, type GraphqlLimits, type HttpConfig } from '../config';
import { bindDeadline, DEFAULT_DEADLINE_SETTINGS } from '../deadline';
import { createErrorFormatter } from '../errors';
import { requireInternalToken } from '../internal-api';
import { formatLimitErrors, limitsPlugin, limitValidationRules } from '../limits/rules';
import type { Logger } from '../logger';
import { bindOriginSettings, DEFAULT_ORIGIN_SETTINGS } from '../origin';

export interface GraphqlServiceOptions<TContext extends BaseContext> {
  name: string;
  http: HttpConfig;
  logger: Logger;
  production: boolean;
  /** Depth, aliases, cost, tokens … (docs/security.md#limits); the defaults when not given. */
  limits?: GraphqlLimits;
  /** Default: off in production. The gateway turns it on there behind its platform-admin guard. */
  introspection?: boolean;
  /** A subgraph passes its guarded schema; the gateway passes itself. */
  schema?: GraphQLSchema;
  gateway?: GatewayInterface;
  plugins?: ApolloServerPlugin<TContext>[];
  validationRules?: import('@apollo/server').ApolloServerOptions<TContext>['validationRules'];
  context: (req: Request) => Promise<TContext>;
  /** Middleware on /graphql between the JSON body parser and Apollo (e.g. the gateway's persisted operations). */
  graphqlMiddleware?: express.RequestHandler[];
  /** Extra public routes (e.g. the gateway's JWKS); mounted before /graphql. */
  publicRoutes?: (app: express.Express) => void;
  /** Service-to-service routes under /internal, guarded by the shared internal token. */
  internal?: { token: string; routes: (router: Router) => void };
  /** Readiness: resolves true when dependencies (database, upstreams) answer. */
  ready: () => Promise<boolean>;
  onStop?: () => Promise<void>;
}

export interface RunningService {
  name: string;
  port: number;
  url: string;
  graphqlUrl: string;
  stop(): Promise<void>;
}

/**
 * Slow clients (docs/security.md#deadlines): the headers must arrive within `headersTimeoutMs` and the whole request
 * within `requestTimeoutMs` (Node's defaults, 60 s and 300 s, let a stalled body hold a connection for five minutes).
 * Node checks these every `connectionsCheckingInterval` (30 s by default), so the check runs at a quarter of the
 * shorter one.
 */
export function serverTimeouts(config: HttpConfig): http.ServerOptions {
  const headersTimeout = config.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(config.requestTimeoutMs ?? 30_000, headersTimeout);
  return { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(30_000, Math.max(25, Math.floor(headersTimeout / 4))) };
}

/** A response that carries DEADLINE_EXCEEDED answers HTTP 504, on every port (docs/security.md#deadlines). */
const deadlineStatusListener: import('@apollo/server').GraphQLRequestListener<BaseContext> = {
  async willSendResponse({ response }) {
    if (response.body.kind !== 'single') return;
    const errors = response.body.singleResult.errors;
    if (errors?.some((error) => error.extensions?.code === 'DEADLINE_EXCEEDED')) response.http.status = 504;
  },
};
const deadlineStatusPlugin: ApolloServerPlugin<BaseContext> = { requestDidStart: async () => deadlineStatusListener };

/** One HTTP shape for every privgraph service: /graphql, /healthz, /readyz, /internal/*. */
export async function startGraphqlService<TContext extends BaseContext>(
  options: GraphqlServiceOptions<TContext>,
): Promise<RunningService> {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // The request's deadline starts when it arrives, before its body is read (docs/security.md#deadlines).
  const deadlineSettings = options.http.deadline ?? DEFAULT_DEADLINE_SETTINGS;
  app.use((req, _res, next) => {
    bindDeadline(req, deadlineSettings);
    next();
  });
  // Forwarding headers are read only from the proxies this service lists (shared/origin.ts), not Express's way.
  const originSettings = options.http.origin ?? DEFAULT_ORIGIN_SETTINGS;
  app.use((req, _res, next) => {
    bindOriginSettings(req, originSettings);
    next();
  });
  const httpServer = http.createServer(serverTimeouts(options.http), app);
  httpServer.keepAliveTimeout = 65_000;

  const limits = options.limits ?? loadGraphqlLimits({});
  const formatError = createErrorFormatter(options.logger);
  const server = new ApolloServer<TContext>({
    ...(options.gateway ? { gateway: options.gateway } : { schema: options.schema as GraphQLSchema }),
    introspection: options.introspection ?? !options.production,
    includeStacktraceInErrorResponses: false,
    // Apollo's APQ cache is written by any caller who sends a query with its hash; the gateway answers
    // hash-only requests from registered operations instead (gateway/src/persisted-operations.ts).
    persistedQueries: false,
    // Signals are handled once per process (scripts/start.ts, server/run.ts), which stops services in order.
    stopOnTerminationSignals: false,
    validationRules: [...limitValidationRules(limits), ...(options.validationRules ?? [])],
    parseOptions: { maxTokens: limits.maxTokens },
    hideSchemaDetailsFromClientErrors: options.production,
    formatError: (formatted: GraphQLFormattedError, error: unknown) => formatLimitErrors(formatError(formatted, error), options.production),
    plugins: [
      limitsPlugin<TContext>(limits),
      deadlineStatusPlugin as ApolloServerPlugin<TContext>,
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ...(options.gateway ? [] : [ApolloServerPluginLandingPageDisabled(), ApolloServerPluginInlineTraceDisabled()]),
      ...(options.plugins ?? []),
    ],
  } as import('@apollo/server').ApolloServerOptions<TContext>);
  await server.start();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', service: options.name });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await options.ready().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', service: options.name });
  });
  options.publicRoutes?.(app);
  if (options.internal) {
    const router = express.Router();
    router.use(requireInternalToken(options.internal.token));
    router.use(express.json({ limit: '5mb' }));
    options.internal.routes(router);
    app.use('/internal', router);
  }
  app.use(
    '/graphql',
    express.json({ limit: options.http.bodyLimit }),
    ...(options.graphqlMiddleware ?? []),
    expressMiddleware(server, { context: async ({ req }) => options.context(req) }),
  );
  app.use((error: unknown, _req: Request, res: express.Response, _next: express.NextFunction) => {
    const status = (error as { status?: number }).status;
    const tooLarge = (error as { type?: string }).type === 'entity.too.large';
    if (status && status >= 400 && status < 500) {
      res.status(status).json({ errors: [{ message: tooLarge ? 'Request body too large' : 'Malformed request', extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    options.logger.error({ err: { name: (error as Error)?.name } }, 'unhandled http error');
    res.status(500).json({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  });

  httpServer.listen(options.http.port, options.http.host);
  await once(httpServer, 'listening');
  const { port } = httpServer.address() as AddressInfo;
  const host = options.http.host === '0.0.0.0' ? '127.0.0.1' : options.http.host;
  const url = `http://${host}:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    name: options.name,
    port,
    url,
    graphqlUrl: `${url}/graphql`,
    stop() {
      stopped ??= (async () => {
        await server.stop();
        await options.onStop?.();
      })();
      return stopped;
    },
  };
}
