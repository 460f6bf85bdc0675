import { join } from 'node:path';
import type { AuditSink } from '../../../shared/audit/events';
import { createRemoteAuditSink } from '../../../shared/audit/recorder';
import { createTokenVerifier } from '../../../shared/auth/verifier';
import { createRemoteConsentLookups, type ConsentLookups } from '../../../shared/consent-client';
import { createRemoteDirectory } from '../../../shared/directory-client';
import { startSubgraph } from '../../../shared/server/subgraph';
import type { PiiConfig } from './config';
import { createContextFactory, type PiiContext } from './context';
import { entities } from './db/entities';
import { migrations } from './db/migrations';
import { createVaultRepository } from './db/repositories/vault-repository';
import { applyPermissions } from './permissions';
import { resolvers } from './resolvers';
import { createLocalKeyring } from './services/key-provider';
import { createVaultService } from './services/vault-service';

export interface PiiOptions {
  now?: () => Date;
  /** Decorates the consent and audit ports (tests count calls through them; they stay the real services). */
  wrapConsents?: (lookups: ConsentLookups) => ConsentLookups;
  wrapAudit?: (sink: AuditSink) => AuditSink;
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
    setup: (dataSource) => {
      const consents = createRemoteConsentLookups(config.common.internal);
      const audit = createRemoteAuditSink(config.common.internal);
      return {
        context: createContextFactory({
          verifier: createTokenVerifier(config.common.auth),
          directory: createRemoteDirectory(config.common.internal),
          consents: options.wrapConsents ? options.wrapConsents(consents) : consents,
          audit: options.wrapAudit ? options.wrapAudit(audit) : audit,
          vault: createVaultService({
            repo: createVaultRepository(dataSource),
            keys: createLocalKeyring(config.keys.keyringPath),
            now,
            dekCacheTtlMs: config.dekCacheTtlMs,
          }),
          now,
        }),
      };
    },
  });
}
