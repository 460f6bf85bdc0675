import { join } from 'node:path';
import { createSystemAuditor } from '../../../shared/audit/actions';
import { createRemoteAuditSink } from '../../../shared/audit/recorder';
import { DEV_ISSUER } from '../../../shared/auth/dev-issuer';
import { createTokenVerifier } from '../../../shared/auth/verifier';
import { createRemoteConsentErasure } from '../../../shared/consent-client';
import { createRemoteConsentPurposes } from '../../../shared/consent-purposes-client';
import { signDsrGrant, type DsrGrantAction } from '../../../shared/dsr-grant';
import { createRemoteErasurePorts } from '../../../shared/erasure-client';
import { openErasureLedger } from '../../../shared/erasure-ledger';
import { createExportClients } from '../../../shared/export-client';
import { openJobQueue } from '../../../shared/jobs';
import { startSubgraph } from '../../../shared/server/subgraph';
import { loadSigningKey } from '../../../shared/signing-key';
import type { IdentityConfig } from './config';
import { createContextFactory, type IdentityContext } from './context';
import { entities } from './db/entities';
import { migrations } from './db/migrations';
import { createExportRepository } from './db/repositories/export-repository';
import { createIdentityRepository } from './db/repositories/identity-repository';
import { createIdpEventRepository } from './db/repositories/idp-event-repository';
import { createRightsRepository } from './db/repositories/rights-repository';
import { createTenantAdminRepository } from './db/repositories/tenant-admin-repository';
import { exportDownloadRoutes } from './export-routes';
import { directoryRoutes, idpEventRoutes, standingRoutes, tenantPolicyRoutes, webhookRoutes } from './internal-api';
import { applyPermissions } from './permissions';
import { resolvers } from './resolvers';
import { createExportDownloads } from './services/export-download';
import { createExportService } from './services/export-service';
import { createIdentityService } from './services/identity-service';
import { createIdpAccounts } from './services/idp-accounts';
import { createIdpEventService } from './services/idp-event-service';
import { createPassportService } from './services/passport-service';
import { createTenantAdminService } from './services/tenant-admin-service';
import { createRightsSaga, type SagaHooks } from './services/rights-saga';
import { createRightsService, replayErasures } from './services/rights-service';
import { createWebhookService } from './services/webhook-service';
import { createTenantSettingsRepository } from './db/repositories/tenant-settings-repository';
import { createTenantSettingsService } from './services/tenant-settings-service';

export interface IdentityOptions {
  now?: () => Date;
  /** Test hooks inside the data subject request saga (e.g. to stop the service mid-step). */
  rightsHooks?: SagaHooks;
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
    setup: async (dataSource, logger) => {
      const now = options.now ?? (() => new Date());
      const identityRepo = createIdentityRepository(dataSource);
      const identity = createIdentityService({
        repo: identityRepo,
        refSecret: config.refSecret,
        now,
        requireOrganizationId: config.common.auth.issuer !== DEV_ISSUER,
      });
      const verifier = createTokenVerifier(config.common.auth);
      const audit = createRemoteAuditSink(config.common.internal);
      // Data export (GDPR Art. 15, 20): assembly from each service's export route, and the one-time download
      const exportRepo = createExportRepository(dataSource);
      const platformKey = await loadSigningKey(config.dataExport.signingKey.path, { create: config.dataExport.signingKey.createIfMissing });
      // The vault decrypts or destroys a whole record only with a grant signed here (shared/dsr-grant.ts).
      const grant = (subjectId: string, requestId: string, action: DsrGrantAction) => signDsrGrant(platformKey, { subjectId, requestId, action }, now());
      const exportService = createExportService({
        repo: identityRepo,
        clients: createExportClients(config.common.internal),
        now,
        grant: (subjectId, requestId) => grant(subjectId, requestId, 'export'),
      });
      const rightsRepo = createRightsRepository(dataSource);
      const dataExports = createExportDownloads({
        requests: rightsRepo,
        repo: exportRepo,
        exportService,
        key: platformKey,
        now,
        baseUrl: config.dataExport.publicGatewayUrl,
      });
      // Webhooks to shops (services/webhook-service.ts): the job queue also serves other background work
      const jobs = await openJobQueue({ database: config.database, logger, ...config.rights.jobs });
      const webhooks = createWebhookService({ dataSource, jobs, now, settings: config.webhooks, logger });
      await webhooks.start();
      // Data subject requests: the saga on the job queue; the erasure ledger replayed before serving
      const ledger = openErasureLedger(config.rights.erasureLedger.path, { publicJwk: platformKey.publicJwk });
      const restored = await replayErasures(ledger, rightsRepo, now);
      if (restored > 0) logger.warn({ subjects: restored }, 'erasure ledger replayed: erased subjects found alive (a restored backup) were tombstoned again');
      const issuer = config.common.auth.issuer;
      const saga = createRightsSaga({
        repo: rightsRepo,
        jobs,
        erasure: createRemoteErasurePorts(config.common.internal),
        consent: createRemoteConsentErasure(config.common.internal),
        idp: createIdpAccounts(config.idpAccounts),
        idpIssuer: issuer === DEV_ISSUER ? null : issuer,
        notifier: webhooks,
        exportItems: (subjectId, system) => exportService.countItems(subjectId, system),
        grant,
        noticeKey: config.refSecret,
        audit: createSystemAuditor(audit, 'dsr-saga', now),
        settings: config.rights.saga,
        logger: logger.child({ component: 'identity.rights' }),
        now,
        hooks: options.rightsHooks,
      });
      const rights = createRightsService({ repo: rightsRepo, identityRepo, notifier: webhooks, startSaga: saga.start, noticeKey: config.refSecret, now });
      webhooks.onSettled((eventId) => {
        void rightsRepo
          .findRequestOfErasedEvent(eventId)
          .then((requestId) => (requestId ? saga.deliverySettled(requestId) : undefined))
          .catch(() => undefined);
      });
      await saga.startWorker();
      const tenantAdminRepo = createTenantAdminRepository(dataSource);
      // Tenant settings the gateway enforces: safelist, persisted operations, browser origins
      const tenantSettings = createTenantSettingsService({
        repo: createTenantSettingsRepository(dataSource),
        resolveTenant: (organizationId) => identity.directory.resolveTenant(organizationId),
        production: config.common.env === 'production',
        now,
      });
      // Identity-provider events (Logto webhooks via the gateway)
      const idpEventRepo = createIdpEventRepository(dataSource);
      const idpEvents = createIdpEventService({
        repo: idpEventRepo,
        directory: identity.directory,
        rights,
        webhooks,
        audit: createSystemAuditor(audit, 'logto-webhook', now),
        issuer: config.common.auth.issuer,
        now,
        logger: logger.child({ component: 'identity.idp-events' }),
      });
      // Blocks by tenant admins, suspensions and tenant updates by platform admins
      const tenantAdmin = createTenantAdminService({
        repo: tenantAdminRepo,
        suspensions: idpEventRepo,
        webhooks,
        directoryChanged: identity.directoryChanged,
        now,
      });
      return {
        context: createContextFactory({
          verifier,
          identity,
          audit,
          dataExports,
          webhooks,
          rights,
          tenantSettings,
          passports: createPassportService({
            repo: tenantAdminRepo,
            storefrontClients: (tenantId) => tenantSettings.storefrontClients(tenantId),
            consents: createRemoteConsentPurposes(config.common.internal),
            key: platformKey,
            settings: config.passport,
            now,
          }),
          tenantAdmin,
          now,
        }),
        internalRoutes: (router) => {
          directoryRoutes(identity, logger)(router);
          idpEventRoutes(idpEvents, logger)(router);
          standingRoutes(tenantAdmin, logger)(router);
          webhookRoutes(webhooks, logger)(router);
          tenantPolicyRoutes(tenantSettings, logger)(router);
        },
        publicRoutes: (app) => {
          exportDownloadRoutes({ verifier, directory: identity.directory, downloads: dataExports, audit, now, logger })(app);
        },
        onStop: async () => {
          saga.stopWorker();
          webhooks.stop();
          await jobs.stop();
        },
      };
    },
  });
}
