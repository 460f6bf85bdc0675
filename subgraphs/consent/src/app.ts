import { join } from 'node:path';
import { createTokenVerifier } from '../../../shared/auth/verifier';
import { createRemoteDirectory } from '../../../shared/directory-client';
import { startSubgraph } from '../../../shared/server/subgraph';
import type { ConsentConfig } from './config';
import { createRemoteAuditSink } from '../../../shared/audit/recorder';
import { createContextFactory, type ConsentContext } from './context';
import { entities } from './db/entities';
import { migrations } from './db/migrations';
import { createConsentRepository } from './db/repositories/consent-repository';
import { consentRoutes } from './internal-api';
import { applyPermissions } from './permissions';
import { resolvers } from './resolvers';
import { createConsentService } from './services/consent-service';

export interface ConsentOptions {
  /** The clock consent expiry is judged by (tests move it forward). */
  now?: () => Date;
}

export function startConsent(config: ConsentConfig, options: ConsentOptions = {}) {
  return startSubgraph<ConsentContext>({
    name: 'consent',
    common: config.common,
    database: config.database,
    sdlPath: join(__dirname, 'schema.graphql'),
    entities,
    migrations,
    resolvers,
    applyPermissions,
    setup: (dataSource, logger) => {
      const directory = createRemoteDirectory(config.common.internal);
      const consents = createConsentService({
        repo: createConsentRepository(dataSource),
        directory,
        now: options.now ?? (() => new Date()),
      });
      return {
        context: createContextFactory({
          verifier: createTokenVerifier(config.common.auth),
          directory,
          consents,
          audit: createRemoteAuditSink(config.common.internal),
        }),
        internalRoutes: consentRoutes(consents, logger),
      };
    },
  });
}
