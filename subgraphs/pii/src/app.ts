import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import type { AuditSink } from '../../../shared/audit/events';
import { createRemoteAuditSink } from '../../../shared/audit/recorder';
import { createTokenVerifier } from '../../../shared/auth/verifier';
import { createRemoteConsentLookups, type ConsentLookups } from '../../../shared/consent-client';
import { openDataSource } from '../../../shared/db/data-source';
import { createRemoteDirectory } from '../../../shared/directory-client';
import { verifyDsrGrant } from '../../../shared/dsr-grant';
import { openErasureLedger } from '../../../shared/erasure-ledger';
import { createRemoteStandingLookups } from '../../../shared/standing-client';
import { startSubgraph } from '../../../shared/server/subgraph';
import { loadSigningKey } from '../../../shared/signing-key';
import type { KekConfig, PiiConfig } from './config';
import { createContextFactory, type PiiContext } from './context';
import { entities, keyStoreEntities, regionEntities } from './db/entities';
import { keyStoreMigrations, migrations, regionMigrations } from './db/migrations';
import { createKeyStoreRepository } from './db/repositories/key-store-repository';
import { createPlacementRepository } from './db/repositories/placement-repository';
import { createRegionRepository } from './db/repositories/region-repository';
import { createRotationRepository } from './db/repositories/rotation-repository';
import { piiRoutes } from './internal-api';
import { applyPermissions } from './permissions';
import { createSubjectExport } from './services/subject-export';
import { resolvers } from './resolvers';
import { createAdminService } from './services/admin-service';
import { createDataKeyCache, type DataKeyCacheStats } from './services/data-key-cache';
import type { IndexKey, KeyEncryptionKey } from './services/key-provider';
import { createKeyRotationService, type RotationHooks } from './services/key-rotation';
import { openLocalKeyring } from './services/local-keyring';
import { createVaultTransitIndexKey, createVaultTransitKek } from './services/vault-transit';
import { createVaultService, type RegionStore } from './services/vault-service';

export interface PiiOptions {
  now?: () => Date;
  /** Decorates the consent and audit ports (tests count calls through them; they stay the real services). */
  wrapConsents?: (lookups: ConsentLookups) => ConsentLookups;
  wrapAudit?: (sink: AuditSink) => AuditSink;
  rotationHooks?: RotationHooks;
  /** Receives the data-key cache's counters (the benchmark reports the hit rate). */
  exposeCacheStats?: (stats: () => DataKeyCacheStats) => void;
}

function keysFor(kek: KekConfig): { kek: KeyEncryptionKey; index: IndexKey } {
  if (kek.provider === 'vault') {
    return { kek: createVaultTransitKek(kek.vault, kek.keyName), index: createVaultTransitIndexKey(kek.vault, kek.indexKeyName) };
  }
  const keyring = openLocalKeyring(kek.keyringPath);
  return { kek: keyring.kek(kek.keyName), index: keyring.indexKey(kek.indexKeyName) };
}

/** Opens each region's data store and key store (their own databases or schemas) and runs their migrations. */
async function openRegionStores(config: PiiConfig, opened: DataSource[]): Promise<Map<string, RegionStore>> {
  const stores = new Map<string, RegionStore>();
  for (const region of config.regions) {
    const open = async (database: typeof region.data, kind: 'data' | 'keys') => {
      const dataSource = await openDataSource({
        database,
        entities: kind === 'data' ? regionEntities : keyStoreEntities,
        migrations: kind === 'data' ? regionMigrations : keyStoreMigrations,
        applicationName: `privgraph-pii-${region.code}${kind === 'keys' ? '-keys' : ''}`,
      });
      opened.push(dataSource);
      return dataSource;
    };
    const data = await open(region.data, 'data');
    const keyStore = await open(region.keys, 'keys');
    stores.set(region.code, { code: region.code, data: createRegionRepository(data), keys: createKeyStoreRepository(keyStore), ...keysFor(region.kek) });
  }
  return stores;
}

export function startPii(config: PiiConfig, options: PiiOptions = {}) {
  const now = options.now ?? (() => new Date());
  return startSubgraph<PiiContext>({
    name: 'pii',
    common: config.common,
    database: config.database,
    sdlPath: join(__dirname, 'schema.graphql'),
    entities,
    migrations,
    resolvers,
    applyPermissions,
    setup: async (dataSource, logger) => {
      const opened: DataSource[] = [];
      const closeStores = async () => {
        for (const store of opened.splice(0)) await store.destroy().catch(() => undefined);
      };
      let stores: Map<string, RegionStore>;
      try {
        stores = await openRegionStores(config, opened);
      } catch (error) {
        await closeStores();
        throw error;
      }
      const policy = { regions: config.regions.map((r) => r.code), defaultRegion: config.defaultRegion, countryRegions: config.countryRegions };
      const cache = createDataKeyCache(config.dekCache);
      options.exposeCacheStats?.(cache.stats);
      const ledgerKey = await loadSigningKey(config.erasureLedger.signingKey.path, { create: config.erasureLedger.signingKey.createIfMissing });
      const erasures = openErasureLedger(config.erasureLedger.path, ledgerKey);
      const placements = createPlacementRepository(dataSource);
      const placed = [...(await placements.countByRegion()).values()].reduce((a, b) => a + b, 0);
      const ledger = await erasures.ensure({ storesHoldData: placed > 0, production: config.common.env === 'production', allowInit: config.erasureLedger.allowInit });
      if (ledger === 'CREATED' && placed > 0) logger.warn({ path: config.erasureLedger.path }, 'erasure ledger started anew while the vault holds data');
      const vault = createVaultService({ placements, stores, policy, cache, now, erasures });
      // Before serving anything: erasures recorded in the ledger win over whatever a restored backup brought back.
      const replayed = await vault.replayErasures();
      if (replayed > 0) logger.warn({ subjects: replayed }, 'erasure ledger replayed: data of erased subjects found in the stores was destroyed again');
      const rotation = createKeyRotationService({
        rotations: createRotationRepository(dataSource),
        stores,
        cache,
        now,
        ...config.rotation,
        hooks: options.rotationHooks,
      });
      rotation.startWorker();
      const consents = createRemoteConsentLookups(config.common.internal);
      const audit = createRemoteAuditSink(config.common.internal);
      return {
        context: createContextFactory({
          verifier: createTokenVerifier(config.common.auth),
          directory: createRemoteDirectory(config.common.internal),
          consents: options.wrapConsents ? options.wrapConsents(consents) : consents,
          standing: createRemoteStandingLookups(config.common.internal),
          audit: options.wrapAudit ? options.wrapAudit(audit) : audit,
          vault,
          rotation,
          admin: createAdminService({ vault, rotation, policy }),
          now,
        }),
        internalRoutes: piiRoutes({ exports: createSubjectExport({ vault, audit, now }), vault, verifyGrant: (grant, expected) => verifyDsrGrant(ledgerKey.publicJwk, grant, expected, now()) }, logger),
        ready: async () => {
          for (const store of opened) await store.query('SELECT 1');
        },
        onStop: async () => {
          await rotation.stopWorker();
          await closeStores();
        },
      };
    },
  });
}
