import { join } from 'node:path';
import { createTokenVerifier } from '../../../shared/auth/verifier';
import { createRemoteDirectory } from '../../../shared/directory-client';
import { startSubgraph } from '../../../shared/server/subgraph';
import type { AuditConfig } from './config';
import { createContextFactory, type AuditContext } from './context';
import { entities } from './db/entities';
import { APP_PRIVILEGES, migrations } from './db/migrations';
import { createAuditRepository } from './db/repositories/audit-repository';
import { erasureRoutes, exportRoutes, ingestRoutes } from './internal-api';
import { createErasureCheck } from './services/erasure-check';
import { createAuditSubjectExport } from './services/subject-export';
import { applyPermissions } from './permissions';
import { resolvers } from './resolvers';
import { createAuditService } from './services/audit-service';
import { createAuditWriter } from './services/audit-writer';
import { createCheckpointer, createFileCheckpointSink } from './services/checkpoints';
import { loadSigningKey } from '../../../shared/signing-key';
import { publicRoutes } from './http-routes';
import { createRetentionRepository } from './db/repositories/retention-repository';
import { createRetentionService } from './services/retention';
import { withOwnerConnection } from '../../../shared/db/data-source';
import { createSystemAuditor } from '../../../shared/audit/actions';
import { componentLogger } from '../../../shared/logger';

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
      const retentionRepo = createRetentionRepository(dataSource, (work) => withOwnerConnection(config.database, dataSource, work));
      const purgeRecords = async () => (await retentionRepo.listPurges()).map((p) => p.record);
      const audit = createAuditService({ repo, directory, checkpoints: sink, purgeRecords, publicJwk: key.publicJwk });
      const verifier = createTokenVerifier(config.common.auth);
      const writer = createAuditWriter(repo);
      const now = options.now ?? (() => new Date());
      const retention = createRetentionService({
        repo,
        retention: retentionRepo,
        key,
        checkpointNow: () => checkpointer.checkpointNow(),
        verify: () => audit.verify(),
        defaultDays: config.retention.defaultDays,
        now,
        directory,
      });
      const retentionTimer =
        config.retention.intervalMs > 0
          ? setInterval(() => {
              retention
                .run(createSystemAuditor(writer, 'audit-retention', now), 'scheduled')
                .catch((error) => componentLogger('audit.retention').warn({ err: { name: (error as Error)?.name } }, 'scheduled retention run failed'));
            }, config.retention.intervalMs).unref()
          : undefined;
      return {
        context: createContextFactory({ verifier, directory, audit, checkpointer, retention, sink: writer, now }),
        internalRoutes: (router) => {
          ingestRoutes(writer, logger, { timeoutMs: config.common.internal.timeoutMs })(router);
          exportRoutes(createAuditSubjectExport({ audit }), logger)(router);
          erasureRoutes(createErasureCheck({ retention: retentionRepo, verify: () => audit.verify() }), logger)(router);
        },
        // The public signing key (the gateway republishes it) and the streamed export.
        publicRoutes: publicRoutes({ verifier, directory, repo, sink: writer, publicJwk: key.publicJwk, now, logger }),
        onStop: async () => {
          clearInterval(retentionTimer);
          await checkpointer.stop();
        },
      };
    },
  });
}
