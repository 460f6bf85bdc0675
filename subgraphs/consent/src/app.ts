import { join } from 'node:path';
import { createTokenVerifier } from '../../../shared/auth/verifier';
import { createRemoteDirectory } from '../../../shared/directory-client';
import { openErasureLedger } from '../../../shared/erasure-ledger';
import { startSubgraph } from '../../../shared/server/subgraph';
import type { ConsentConfig } from './config';
import { createRemoteAuditSink } from '../../../shared/audit/recorder';
import { createContextFactory, type ConsentContext } from './context';
import { entities } from './db/entities';
import { migrations } from './db/migrations';
import { createConsentRepository } from './db/repositories/consent-repository';
import { createPolicyRepository } from './db/repositories/policy-repository';
import { consentRoutes, erasureRoutes, exportRoutes } from './internal-api';
import { createConsentSubjectExport } from './services/subject-export';
import { applyPermissions } from './permissions';
import { resolvers } from './resolvers';
import { createConsentService } from './services/consent-service';
import { createPolicyService } from './services/policy-service';
import { createProcessingRecordsService } from './services/processing-records';
import { loadSigningKey } from '../../../shared/signing-key';
import { createSystemAuditor } from '../../../shared/audit/actions';
import { createWebhookRelayClient } from '../../../shared/webhook-client';
import { createOutboxRelay } from './services/webhook-relay';

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
    setup: async (dataSource, logger) => {
      const directory = createRemoteDirectory(config.common.internal);
      const now = options.now ?? (() => new Date());
      const policyRepo = createPolicyRepository(dataSource);
      const policies = createPolicyService({ repo: policyRepo, now });
      const { signingKey, jurisdiction, language } = config.receipts;
      const platformKey = await loadSigningKey(signingKey.path, { create: signingKey.createIfMissing });
      // Webhook outbox: consent.granted / consent.withdrawn written with the change, relayed to identity in batches
      const consentRepo = createConsentRepository(dataSource);
      const relay = createOutboxRelay({ repo: consentRepo, identity: createWebhookRelayClient(config.common.internal), now, logger });
      await relay.start();
      const auditSink = createRemoteAuditSink(config.common.internal);
      const consents = createConsentService({
        repo: consentRepo,
        outbox: relay.queue,
        policyRepo,
        policies,
        directory,
        receipts: { key: platformKey, jurisdiction, language },
        now,
      });
      // Before serving: consents of erased subjects that a restored backup brought back are withdrawn again.
      const ledger = openErasureLedger(config.erasureLedger.path, { publicJwk: platformKey.publicJwk });
      const replayed = await consents.replayErasures(
        (await ledger.entries()).map((entry) => entry.subjectId),
        createSystemAuditor(auditSink, 'erasure-ledger-replay', now),
      );
      if (replayed > 0) logger.warn({ consents: replayed }, 'erasure ledger replayed: consents of erased subjects were withdrawn again');
      return {
        context: createContextFactory({
          verifier: createTokenVerifier(config.common.auth),
          directory,
          consents,
          policies,
          audit: createRemoteAuditSink(config.common.internal),
          processingRecords: createProcessingRecordsService({ listVersions: (tenantId) => policies.list(tenantId), directory, now }),
        }),
        internalRoutes: (router) => {
          consentRoutes(consents, logger)(router);
          exportRoutes(createConsentSubjectExport({ consents, policyRepo, now }), logger)(router);
          erasureRoutes(consents, createSystemAuditor(auditSink, 'consent-erasure', now), logger)(router);
        },
        onStop: async () => {
          await relay.stop();
        },
      };
    },
  });
}
