import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { VerifiedToken } from '../../shared/auth/verifier';
import { privgraphError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { SCOPES } from '../../shared/pii';
import { OPERATION_NAME_PATTERN, type SafelistReport, type TenantPolicy, type TenantPolicyClient } from '../../shared/tenant-policy-client';
import type { SafelistSettings } from './config';

/**
 * How long a policy read earlier still decides when identity does not answer, whatever its mode: as
 * long as the subgraphs keep resolving the tenant from their directory cache, so the gateway is no
 * less available than they are. Past it only an ENFORCE policy keeps deciding (see policyFor).
 */
const STALE_POLICY_MS = 30_000;
/** Distinct (tenant, document) pairs waiting for the next flush; more are counted in the log only. */
const MAX_PENDING_REPORTS = 10_000;
/** A tenant admin must always be able to change the settings, even when the safelist refuses everything else. */
const SETTINGS_FIELDS = new Set(['tenantSettings', 'setSafelistMode', 'registerPersistedOperations', 'setAllowedOrigins', 'setStorefrontClients', '__typename']);

export interface KnownPolicy {
  tenantId: string | null;
  mode: TenantPolicy['mode'];
  operationIds: ReadonlySet<string>;
  rateLimitPoints: number | null;
  fetchedAt: number;
}

/**
 * `request`: the request's context. The rate limit and the safelist both read the policy of one request; with it
 * they share one answer, so even an organization no tenant answers to (never cached) costs identity one call a request.
 */
export type PolicyLookup = (organizationId: string, request?: object) => Promise<KnownPolicy | 'unavailable'>;

/**
 * The tenant's policy by IdP organization id, cached for TENANT_POLICY_CACHE_MS so a mode change takes
 * effect within seconds. When identity cannot be read, fail closed: the last policy read still decides
 * for STALE_POLICY_MS; after that an ENFORCE policy keeps enforcing (with the operations it listed), and
 * any other tenant's requests are refused with DEPENDENCY_UNAVAILABLE, since it may have switched to
 * ENFORCE meanwhile. A tenant whose policy was never read is refused the same way.
 */
export function createPolicyLookup(client: Pick<TenantPolicyClient, 'policy'>, options: { cacheMs: number; logger: Logger; now?: () => number }): PolicyLookup {
  const now = options.now ?? Date.now;
  const known = new LRUCache<string, KnownPolicy>({ max: 10_000 });
  const inFlight = new Map<string, Promise<KnownPolicy>>();
  const fetchPolicy = (organizationId: string) => {
    let pending = inFlight.get(organizationId);
    if (!pending) {
      pending = client
        .policy(organizationId)
        .then((policy) => {
          const entry: KnownPolicy = {
            tenantId: policy.tenantId,
            mode: policy.mode,
            operationIds: new Set(policy.operationIds),
            rateLimitPoints: policy.rateLimitPoints,
            fetchedAt: now(),
          };
          known.set(organizationId, entry);
          return entry;
        })
        .finally(() => inFlight.delete(organizationId));
      inFlight.set(organizationId, pending);
    }
    return pending;
  };
  const perRequest = new WeakMap<object, { organizationId: string; answer: Promise<KnownPolicy | 'unavailable'> }>();
  const lookup = async (organizationId: string): Promise<KnownPolicy | 'unavailable'> => {
    const entry = known.get(organizationId);
    // "No such tenant" is asked again each time: it is refused, and identity answers a tenant that has just
    // been given this organization (updateTenant, createTenant) at once.
    if (entry && entry.tenantId !== null && now() - entry.fetchedAt < options.cacheMs) return entry;
    try {
      return await fetchPolicy(organizationId);
    } catch (error) {
      const usable = entry && (now() - entry.fetchedAt < STALE_POLICY_MS || entry.mode === 'ENFORCE');
      options.logger.warn(
        { tenantId: entry?.tenantId ?? null, err: { name: (error as Error)?.name }, decision: usable ? `last known ${entry.mode}` : 'refused' },
        'tenant safelist policy unreadable',
      );
      return usable ? entry : 'unavailable';
    }
  };
  return (organizationId, request) => {
    if (!request) return lookup(organizationId);
    const memo = perRequest.get(request);
    if (memo?.organizationId === organizationId) return memo.answer;
    const answer = lookup(organizationId);
    perRequest.set(request, { organizationId, answer });
    return answer;
  };
}

/** Root fields of the operation, or null when the root selects through fragments (never exempt). */
function rootFields(operation: OperationDefinitionNode): string[] | null {
  const names: string[] = [];
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) return null;
    names.push(selection.name.value);
  }
  return names;
}

export interface Safelist {
  plugin: ApolloServerPlugin<BaseContext & { verified: VerifiedToken | undefined; requestId: string }>;
  /** Sends what REPORT counted so far; stops the periodic flush. */
  stop(): Promise<void>;
}

/**
 * Per-tenant operation safelisting (docs/safelisting.md), in `didResolveOperation` as Apollo's own
 * operation registry did: after parsing and validation, before any subgraph is called. Only tokens that
 * carry the tenant claim (a shop's backend or its staff) are judged; subject and platform-admin traffic
 * passes untouched. The document's id is Apollo's `queryHash`: SHA-256 of the exact text.
 */
export function createSafelist(deps: {
  client: Pick<TenantPolicyClient, 'policy' | 'report'>;
  settings: SafelistSettings;
  logger: Logger;
  /** The gateway's one policy cache, shared with the rate limit (default: a cache of its own). */
  policyFor?: PolicyLookup;
}): Safelist {
  const { logger } = deps;
  const policyFor = deps.policyFor ?? createPolicyLookup(deps.client, { cacheMs: deps.settings.policyCacheMs, logger });
  let pending = new Map<string, SafelistReport>();
  let dropped = 0;

  const count = (tenantId: string, operationId: string, operationName: string | null) => {
    const key = `${tenantId}:${operationId}`;
    const seen = pending.get(key);
    const lastSeenAt = new Date().toISOString();
    if (seen) {
      seen.count += 1;
      seen.lastSeenAt = lastSeenAt;
    } else if (pending.size < MAX_PENDING_REPORTS) {
      pending.set(key, { tenantId, operationId, operationName, count: 1, lastSeenAt });
    } else {
      dropped += 1;
    }
  };

  let flushing: Promise<void> | undefined;
  const flush = () => {
    flushing ??= (async () => {
      const batch = [...pending.values()];
      pending = new Map();
      if (dropped > 0) logger.warn({ dropped }, 'safelist reports dropped: too many distinct documents between flushes');
      dropped = 0;
      for (let i = 0; i < batch.length; i += 1000) {
        const part = batch.slice(i, i + 1000);
        try {
          await deps.client.report(part);
        } catch (error) {
          // Kept for the next flush (bounded like any other pending report).
          for (const report of part) {
            const key = `${report.tenantId}:${report.operationId}`;
            const newer = pending.get(key);
            if (newer) newer.count += report.count;
            else if (pending.size < MAX_PENDING_REPORTS) pending.set(key, report);
          }
          logger.warn({ reports: part.length, err: { name: (error as Error)?.name } }, 'safelist reports not delivered; kept for the next flush');
          break;
        }
      }
    })().finally(() => {
      flushing = undefined;
    });
    return flushing;
  };
  const timer = setInterval(() => void flush(), deps.settings.reportFlushMs);
  timer.unref();

  return {
    plugin: {
      async requestDidStart({ contextValue }) {
        return {
          async didResolveOperation(requestContext) {
            const { verified } = contextValue;
            if (verified?.organizationId === undefined) return;
            const policy = await policyFor(verified.organizationId, contextValue);
            if (policy === 'unavailable') {
              throw privgraphError('DEPENDENCY_UNAVAILABLE', "The tenant's safelist policy cannot be read; nothing was run", { httpStatus: 503 });
            }
            // No tenant answers to the organization: every subgraph refuses the token too, but one whose
            // directory cache still maps it (up to 30 s after updateTenant moved the tenant) would run it unjudged.
            if (policy.tenantId === null) throw privgraphError('FORBIDDEN', "The token's organization is not a registered tenant", { httpStatus: 403 });
            if (policy.mode === 'OFF') return;
            const operationId = requestContext.queryHash;
            if (policy.operationIds.has(operationId)) return;
            const operation = requestContext.operation;
            const fields = operation ? rootFields(operation) : null;
            if (verified.scopes.has(SCOPES.tenantAdmin) && fields && fields.every((name) => SETTINGS_FIELDS.has(name))) return;
            const name = requestContext.operationName;
            const operationName = name && OPERATION_NAME_PATTERN.test(name) ? name : null;
            const entry = { tenantId: policy.tenantId, operationName, operationId, requestId: contextValue.requestId };
            if (policy.mode === 'REPORT') {
              logger.info({ ...entry, mode: 'REPORT' }, 'operation not safelisted (ran: REPORT mode)');
              count(policy.tenantId, operationId, operationName);
              return;
            }
            logger.info({ ...entry, mode: 'ENFORCE' }, 'operation not safelisted: refused');
            throw privgraphError('OPERATION_NOT_SAFELISTED', "This document is not one of the tenant's registered persisted operations; nothing was run", {
              httpStatus: 403,
            });
          },
        };
      },
    },
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}
