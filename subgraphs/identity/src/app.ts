import { join } from 'node:path';
import { createTokenVerifier } from '../../../shared/auth/verifier';
import { startSubgraph } from '../../../shared/server/subgraph';
import type { IdentityConfig } from './config';
import { createRemoteAuditSink } from '../../../shared/audit/recorder';
import { createContextFactory, type IdentityContext } from './context';
import { entities } from './db/entities';
import { migrations } from './db/migrations';
import { createIdentityRepository } from './db/repositories/identity-repository';
import { directoryRoutes } from './internal-api';
import { applyPermissions } from './permissions';
import { resolvers } from './resolvers';
import { createIdentityService } from './services/identity-service';

export interface IdentityOptions {
  now?: () => Date;
}

export function startIdentity(config: IdentityConfig, options: IdentityOptions = {}) {
  return startSubgraph<IdentityContext>({
    name: 'identity',
    common: config.common,
    database: config.database,
    sdlPath: join(__dirname, 'schema.graphql'),
    entities,
    migrations,
    resolvers,
    applyPermissions,
    setup: (dataSource, logger) => {
      const now = options.now ?? (() => new Date());
      const identity = createIdentityService({ repo: createIdentityRepository(dataSource), refSecret: config.refSecret, now });
      return {
        context: createContextFactory({
          verifier: createTokenVerifier(config.common.auth),
          identity,
          audit: createRemoteAuditSink(config.common.internal),
          now,
        }),
        internalRoutes: directoryRoutes(identity, logger),
      };
    },
  });
}
