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
import { createCheckpointer, createFileCheckpointSink } from './services/checkpoints';
import { loadSigningKey } from '../../../shared/signing-key';
import { publicRoutes } from './http-routes';

export interface AuditOptions {
  now?: () => Date;
}

export function startAudit(config: AuditConfig, options: AuditOptions = {}) {
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
    setup: async (dataSource, logger) => {
      const repo = createAuditRepository(dataSource);
      const directory = createRemoteDirectory(config.common.internal);
      const key = await loadSigningKey(config.signingKey.path, { create: config.signingKey.createIfMissing });
      const sink = createFileCheckpointSink(config.checkpoints.path);
      const checkpointer = createCheckpointer({ repo, sink, key, now: options.now ?? (() => new Date()), intervalMs: config.checkpoints.intervalMs });
      checkpointer.start();
      const audit = createAuditService({ repo, directory, checkpoints: sink, publicJwk: key.publicJwk });
      const verifier = createTokenVerifier(config.common.auth);
      const writer = createAuditWriter(repo);
      return {
        context: createContextFactory({ verifier, directory, audit, checkpointer }),
        internalRoutes: ingestRoutes(writer, logger),
        // The public signing key (the gateway republishes it) and the streamed export.
        publicRoutes: publicRoutes({ verifier, directory, repo, sink: writer, publicJwk: key.publicJwk, now: options.now ?? (() => new Date()), logger }),
        onStop: () => checkpointer.stop(),
      };
    },
  });
}
