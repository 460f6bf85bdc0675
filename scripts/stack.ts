import type { Env, ServiceName } from '../shared/config';
import type { RunningService } from '../shared/server/graphql-service';
import { startAudit } from '../subgraphs/audit/src/app';
import { loadAuditConfig } from '../subgraphs/audit/src/config';
import { startConsent } from '../subgraphs/consent/src/app';
import { loadConsentConfig } from '../subgraphs/consent/src/config';
import { startIdentity, type IdentityOptions } from '../subgraphs/identity/src/app';
import { loadIdentityConfig } from '../subgraphs/identity/src/config';
import { startPii, type PiiOptions } from '../subgraphs/pii/src/app';
import { loadPiiConfig, type RegionConfig } from '../subgraphs/pii/src/config';
import { startGateway } from '../gateway/src/app';
import { loadGatewayConfig } from '../gateway/src/config';

export interface StackOptions {
  env: Env;
  /** Listen on the default ports (4000-4004, or PORT/<SERVICE>_PORT) or on free ones (0). */
  ports: 'configured' | 'ephemeral';
  now?: () => Date;
  pii?: PiiOptions;
  identity?: Omit<IdentityOptions, 'now'>;
}

export interface RunningStack {
  gateway: RunningService;
  /** The pii service's region stores and their key providers, as configured. */
  piiRegions: RegionConfig[];
  subgraphs: Record<ServiceName, RunningService>;
  stop(): Promise<void>;
}

/**
 * The gateway and the four subgraphs in one process (the `npm start` default and the test harness).
 * Services still talk to each other only over HTTP, exactly as when deployed apart. They start in
 * dependency order so each learns the URLs of those it calls; identity and audit call each other, so
 * identity learns audit's address once audit is up (internal clients resolve addresses at first use).
 */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const env: Env = { ...options.env };
  const ephemeral = options.ports === 'ephemeral';
  const port = (variable: string) => (ephemeral ? { [variable]: '0' } : {});
  // The gateway reaches the subgraphs over loopback, so they believe its forwarding headers there
  // (SUBGRAPH_TRUSTED_PROXIES, default `loopback`); the gateway itself trusts TRUSTED_PROXIES (default none).
  const subgraph = (variable: string) => ({ ...port(variable), TRUSTED_PROXIES: options.env.SUBGRAPH_TRUSTED_PROXIES ?? 'loopback' });
  const started: RunningService[] = [];
  const stopAll = async () => {
    for (const service of started.reverse()) await service.stop().catch(() => undefined);
  };
  try {
    const identityConfig = loadIdentityConfig({ ...env, ...subgraph('IDENTITY_PORT') });
    const identity = await startIdentity(identityConfig, { now: options.now, ...options.identity });
    started.push(identity);
    env.IDENTITY_URL = identity.url;
    const audit = await startAudit(loadAuditConfig({ ...env, ...subgraph('AUDIT_PORT') }), { now: options.now });
    started.push(audit);
    env.AUDIT_URL = audit.url;
    identityConfig.common.internal.endpoints.audit = audit.url;
    const consent = await startConsent(loadConsentConfig({ ...env, ...subgraph('CONSENT_PORT') }), { now: options.now });
    started.push(consent);
    env.CONSENT_URL = consent.url;
    identityConfig.common.internal.endpoints.consent = consent.url; // identity calls consent and pii too (data export, erasure)
    const piiConfig = loadPiiConfig({ ...env, ...subgraph('PII_PORT') });
    const pii = await startPii(piiConfig, { now: options.now, ...options.pii });
    started.push(pii);
    env.PII_URL = pii.url;
    identityConfig.common.internal.endpoints.pii = pii.url;
    const gateway = await startGateway(loadGatewayConfig({ ...env, ...port('PORT') }));
    started.push(gateway);
    return { gateway, piiRegions: piiConfig.regions, subgraphs: { identity, pii, consent, audit }, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
