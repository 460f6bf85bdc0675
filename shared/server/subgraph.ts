import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { Express, Request, Router } from 'express';
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, parse, visit, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { DataSource, EntitySchema, MigrationInterface } from 'typeorm';
import type { CommonConfig, DatabaseConfig, ServiceName } from '../config';
import { openDataSource } from '../db/data-source';
import { privgraphError } from '../errors';
import { INTERNAL_TOKEN_HEADER, internalTokenCheck } from '../internal-api';
import { componentLogger, type Logger } from '../logger';
import type { ServiceContext } from '../context';
import { startGraphqlService, type RunningService } from './graphql-service';

export interface SubgraphDefinition<TContext extends ServiceContext> {
  name: ServiceName;
  common: CommonConfig;
  database: DatabaseConfig;
  sdlPath: string;
  entities: EntitySchema[];
  migrations: (new () => MigrationInterface)[];
  /** The application role's table privileges when migrations run as a separate owner. */
  appPrivileges?: string;
  resolvers: GraphQLResolverMap<TContext>;
  applyPermissions: (schema: GraphQLSchema) => GraphQLSchema;
  /** Wires repositories and services onto the opened data source (and may open more stores). */
  setup: (dataSource: DataSource, logger: Logger) => SubgraphWiring<TContext> | Promise<SubgraphWiring<TContext>>;
}

export interface SubgraphWiring<TContext> {
  context: (req: Request) => Promise<TContext>;
  internalRoutes?: (router: Router) => void;
  /** Public routes besides /graphql (e.g. the audit service's JWKS). */
  publicRoutes?: (app: Express) => void;
  /** Extra readiness checks (e.g. other stores); the service's own database is always checked. */
  ready?: () => Promise<void>;
  onStop?: () => Promise<void>;
}

export function loadSdl(path: string) {
  return parse(readFileSync(path, 'utf8'));
}

/** True when any operation or fragment of the document selects `_service` (the subgraph's SDL). */
function readsServiceSdl(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.FIELD](node) {
      if (node.name.value !== '_service') return undefined;
      found = true;
      return false;
    },
  });
  return found;
}

/**
 * In production `_service { sdl }` is the subgraph's whole schema, federation internals and
 * `@inaccessible` parts included, which introspection is off to withhold: only with the internal
 * credential (the `x-privgraph-internal-token` header, as service-to-service calls present it) or a
 * platform admin's token. The gateway composes from the committed supergraph, so nothing in the running graph needs it.
 */
export function productionServiceSdlGuard(internalToken: string): ApolloServerPlugin<ServiceContext> {
  const holdsInternalToken = internalTokenCheck(internalToken);
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, contextValue, request }) {
          if (!readsServiceSdl(document) || contextValue.principal.kind === 'platform_admin') return;
          if (holdsInternalToken(request.http?.headers.get(INTERNAL_TOKEN_HEADER))) return;
          throw privgraphError('FORBIDDEN', "The subgraph's SDL needs the internal credential or a platform admin token in production", { httpStatus: 403 });
        },
      };
    },
  };
}

/** The one boot sequence every subgraph follows: data source → services → guarded schema → HTTP. */
export async function startSubgraph<TContext extends ServiceContext>(definition: SubgraphDefinition<TContext>): Promise<RunningService> {
  const logger = componentLogger(definition.name);
  const schema = definition.applyPermissions(
    buildSubgraphSchema({ typeDefs: loadSdl(definition.sdlPath), resolvers: definition.resolvers as GraphQLResolverMap<unknown> }),
  );
  const dataSource = await openDataSource({
    database: definition.database,
    entities: definition.entities,
    migrations: definition.migrations,
    appPrivileges: definition.appPrivileges,
    applicationName: `privgraph-${definition.name}`,
  });
  let wiring: SubgraphWiring<TContext> | undefined;
  try {
    wiring = await definition.setup(dataSource, logger);
    const { onStop, ready } = wiring;
    const production = definition.common.env === 'production';
    const running = await startGraphqlService<TContext>({
      name: definition.name,
      http: definition.common.http,
      logger,
      production,
      schema,
      limits: definition.common.limits,
      plugins: production ? [productionServiceSdlGuard(definition.common.internal.token) as ApolloServerPlugin<TContext>] : [],
      context: wiring.context,
      publicRoutes: wiring.publicRoutes,
      internal: wiring.internalRoutes ? { token: definition.common.internal.token, routes: wiring.internalRoutes } : undefined,
      ready: async () => {
        await dataSource.query('SELECT 1');
        await ready?.();
        return true;
      },
      onStop: async () => {
        await onStop?.();
        await dataSource.destroy();
      },
    });
    logger.info({ url: running.graphqlUrl, schema: definition.database.schema }, 'subgraph listening');
    return running;
  } catch (error) {
    await wiring?.onStop?.().catch(() => undefined);
    await dataSource.destroy();
    throw error;
  }
}
