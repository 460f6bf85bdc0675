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
import { createSystemAuditor } from '../../../shared/audit/actions';
import { createIdpEventRepository } from './db/repositories/idp-event-repository';
import { idpEventRoutes } from './internal-api';
import { createIdpEventService, type ErasureOpener } from './services/idp-event-service';

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
      // --- Identity-provider events (Logto webhooks via the gateway) ---
      const erasureNotWired: ErasureOpener = {
        // Until the rights service is wired here: the event fails, so Logto retries it later.
        openErasure: async () => {
          throw new Error('erasure requests are not wired');
        },
      };
      const idpEvents = createIdpEventService({
        repo: createIdpEventRepository(dataSource),
        directory: identity.directory,
        rights: erasureNotWired,
        webhooks: null,
        audit: createSystemAuditor(createRemoteAuditSink(config.common.internal), 'logto-webhook', now),
        issuer: config.common.auth.issuer,
        now,
        logger: logger.child({ component: 'identity.idp-events' }),
      });
      // --- end identity-provider events ---
      return {
        context: createContextFactory({
          verifier: createTokenVerifier(config.common.auth),
          identity,
          audit: createRemoteAuditSink(config.common.internal),
          now,
        }),
        internalRoutes: (router) => {
          directoryRoutes(identity, logger)(router);
          idpEventRoutes(idpEvents, logger)(router); // identity-provider events
        },
      };
    },
  });
}
