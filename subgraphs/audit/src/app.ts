import { join } from 'node:path';
import { createTokenVerifier } from '../../../shared/auth/verifier';
import { createRemoteDirectory } from '../../../shared/directory-client';
import { startSubgraph } from '../../../shared/server/subgraph';
import type { AuditConfig } from './config';
import { createContextFactory, type AuditContext } from './context';
import { entities } from './db/entities';
import { APP_PRIVILEGES, migrations } from './db/migrations';
import { createAuditRepository } from './db/repositories/audit-repository';
import { ingestRoutes } from './internal-api';
import { applyPermissions } from './permissions';
import { resolvers } from './resolvers';
import { createAuditService } from './services/audit-service';
import { createAuditWriter } from './services/audit-writer';

export function startAudit(config: AuditConfig) {
  return startSubgraph<AuditContext>({
    name: 'audit',
    common: config.common,
    database: config.database,
    sdlPath: join(__dirname, 'schema.graphql'),
    entities,
    migrations,
    appPrivileges: APP_PRIVILEGES,
    resolvers,
    applyPermissions,
    setup: (dataSource, logger) => {
      const repo = createAuditRepository(dataSource);
      const directory = createRemoteDirectory(config.common.internal);
      const audit = createAuditService({ repo, directory });
      return {
        context: createContextFactory({ verifier: createTokenVerifier(config.common.auth), directory, audit }),
        internalRoutes: ingestRoutes(createAuditWriter(repo), logger),
      };
    },
  });
}
