import { Kind, parse, type DocumentNode } from 'graphql';
import { auditedEffect, type ActionAuditor } from '../../../../shared/audit/actions';
import { badInput, notFound } from '../../../../shared/errors';
import { isUuid } from '../../../../shared/db/data-source';
import {
  checkOrigin,
  MAX_ORIGINS_PER_TENANT,
  MAX_REPORTED_OPERATIONS_PER_TENANT,
  OPERATION_ID_PATTERN,
  OPERATION_NAME_PATTERN,
  operationIdOf,
  PERSISTED_OPERATION_LIMITS,
  type SafelistMode,
  type SafelistReport,
  type TenantPolicy,
} from '../../../../shared/tenant-policy-client';
import type { PersistedOperationRow } from '../db/entities/tenant-settings';
import type { RegisteredOperationRow, RegistrationCounts, TenantSettingsRepository } from '../db/repositories/tenant-settings-repository';

export const MANIFEST_FORMAT = 'apollo-persisted-query-manifest';
const REPORTS_SHOWN = 100;
const MAX_INT = 2_147_483_647;
/** The column's bound (migration 1764900000000), the same as RATE_LIMIT_POINTS'. */
const MAX_RATE_LIMIT_POINTS = 1_000_000_000;
export const MAX_STOREFRONT_CLIENTS = 20;
/** An OIDC client id as IdPs issue them (Logto: 21 lower-case letters and digits); no spaces, quotes or separators. */
const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export interface TenantSettingsView {
  safelistMode: SafelistMode;
  rateLimitPoints: number | null;
  persistedOperations: { id: string; name: string; type: string; registeredAt: Date }[];
  allowedOrigins: string[];
  storefrontClients: string[];
  unsafelistedRequestCount: number;
  unsafelistedOperations: { id: string; name: string | null; count: number; firstSeenAt: Date; lastSeenAt: Date }[];
  updatedAt: Date | null;
}

export interface ManifestInput {
  format: string;
  version: number;
  operations: { id: string; name: string; type: string; body: string }[];
}

export type TenantSettingsService = ReturnType<typeof createTenantSettingsService>;

/** GraphQL Int is 32-bit; a counter past it is shown as the largest Int. */
const asInt = (count: string) => Math.min(Number(count), MAX_INT);

/** One operation of a manifest, checked as the server sees it: the id recomputed, the body parsed. */
function checkOperation(op: ManifestInput['operations'][number], at: string): Omit<PersistedOperationRow, 'tenantId' | 'registeredAt'> {
  if (!OPERATION_ID_PATTERN.test(op.id)) throw badInput(`${at}.id`, 'id must be the SHA-256 of the body in lower-case hex');
  if (!OPERATION_NAME_PATTERN.test(op.name)) throw badInput(`${at}.name`, 'name must be a GraphQL name of at most 100 characters');
  if (op.type !== 'query' && op.type !== 'mutation') throw badInput(`${at}.type`, 'type must be query or mutation');
  if (op.body.length === 0 || Buffer.byteLength(op.body, 'utf8') > PERSISTED_OPERATION_LIMITS.bodyBytes) {
    throw badInput(`${at}.body`, `body must hold 1 to ${PERSISTED_OPERATION_LIMITS.bodyBytes} bytes`);
  }
  if (operationIdOf(op.body) !== op.id) throw badInput(`${at}.id`, 'id does not match the SHA-256 of the body (it must be the exact text clients send)');
  let document: DocumentNode;
  try {
    document = parse(op.body, { noLocation: true });
  } catch {
    throw badInput(`${at}.body`, 'body is not a GraphQL document');
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const others = document.definitions.filter((d) => d.kind !== Kind.OPERATION_DEFINITION && d.kind !== Kind.FRAGMENT_DEFINITION);
  if (operations.length !== 1 || others.length > 0) throw badInput(`${at}.body`, 'body must hold exactly one operation (and its fragments)');
  const [operation] = operations;
  if (operation.operation !== op.type) throw badInput(`${at}.type`, "type is not the body's operation type");
  if (operation.name?.value !== op.name) throw badInput(`${at}.name`, "name is not the body's operation name");
  return { operationId: op.id, name: op.name, type: op.type, body: op.body };
}

/**
 * A tenant's settings that the gateway enforces: the safelist mode, registered persisted operations and
 * allowed browser origins (docs/safelisting.md, docs/cors.md). Every change is audited before it is made.
 */
export function createTenantSettingsService(deps: {
  repo: TenantSettingsRepository;
  /** The tenant that answers to an IdP organization id (the directory). */
  resolveTenant: (organizationId: string) => Promise<{ tenantId: string } | null>;
  production: boolean;
  now: () => Date;
}) {
  const { repo, now } = deps;

  async function settingsOf(tenantId: string): Promise<TenantSettingsView> {
    const [row, operations, reports] = await Promise.all([repo.findSettings(tenantId), repo.listOperations(tenantId), repo.listReports(tenantId, REPORTS_SHOWN)]);
    return {
      safelistMode: row?.safelistMode ?? 'OFF',
      rateLimitPoints: row?.rateLimitPoints ?? null,
      persistedOperations: operations.map((op: RegisteredOperationRow) => ({ id: op.operationId, name: op.name, type: op.type, registeredAt: op.registeredAt })),
      allowedOrigins: row?.allowedOrigins ?? [],
      storefrontClients: row?.storefrontClients ?? [],
      unsafelistedRequestCount: row ? asInt(row.reportedCount) : 0,
      unsafelistedOperations: reports.map((r) => ({ id: r.operationId, name: r.operationName, count: asInt(r.count), firstSeenAt: r.firstSeenAt, lastSeenAt: r.lastSeenAt })),
      updatedAt: row?.updatedAt ?? null,
    };
  }

  return {
    settings: settingsOf,

    async setSafelistMode(tenantId: string, mode: SafelistMode, audit: ActionAuditor): Promise<TenantSettingsView> {
      await auditedEffect(audit, 'TENANT_SETTINGS_SET', { tenantId, field: `SafelistMode.${mode}` }, () => repo.setMode(tenantId, mode, now()));
      return settingsOf(tenantId);
    },

    async setAllowedOrigins(tenantId: string, origins: string[], audit: ActionAuditor): Promise<TenantSettingsView> {
      if (origins.length > MAX_ORIGINS_PER_TENANT) throw badInput('origins', `at most ${MAX_ORIGINS_PER_TENANT} origins`);
      const checked = origins.map((value, index) => {
        const result = checkOrigin(value, { production: deps.production });
        if ('refused' in result) throw badInput(`origins.${index}`, `origins.${index} ${result.refused}`);
        return result.origin;
      });
      const unique = [...new Set(checked)];
      await auditedEffect(audit, 'TENANT_SETTINGS_SET', { tenantId, field: `AllowedOrigins.${unique.length}` }, () => repo.setOrigins(tenantId, unique, now()));
      return settingsOf(tenantId);
    },

    /** Replaces the client ids of the tenant's storefront apps, the apps a passport for the tenant may be asked from (docs/passports.md). */
    async setStorefrontClients(tenantId: string, clientIds: string[], audit: ActionAuditor): Promise<TenantSettingsView> {
      if (clientIds.length > MAX_STOREFRONT_CLIENTS) throw badInput('clientIds', `at most ${MAX_STOREFRONT_CLIENTS} client ids`);
      clientIds.forEach((value, index) => {
        if (!CLIENT_ID_PATTERN.test(value)) {
          throw badInput(`clientIds.${index}`, `clientIds.${index} must be an OIDC client id: 1 to 128 letters, digits, . _ : - (starting with a letter or digit)`);
        }
      });
      const unique = [...new Set(clientIds)];
      await auditedEffect(audit, 'TENANT_SETTINGS_SET', { tenantId, field: `StorefrontClients.${unique.length}` }, () => repo.setStorefrontClients(tenantId, unique, now()));
      return settingsOf(tenantId);
    },

    storefrontClients: (tenantId: string) => repo.storefrontClientsOf(tenantId),

    /**
     * A platform admin sets the points per window each of a tenant's backends and members may spend at
     * the gateway (null: the deployment default). Takes effect within TENANT_POLICY_CACHE_MS.
     */
    async setRateLimit(tenantId: string, points: number | null, audit: ActionAuditor): Promise<void> {
      if (points !== null && (!Number.isInteger(points) || points < 1 || points > MAX_RATE_LIMIT_POINTS)) {
        throw badInput('points', `points must be 1 to ${MAX_RATE_LIMIT_POINTS} (null: the deployment default)`);
      }
      if (!isUuid(tenantId) || !(await repo.tenantExists(tenantId))) throw notFound('Tenant');
      await auditedEffect(audit, 'TENANT_SETTINGS_SET', { tenantId, field: `RateLimit.${points ?? 'DEFAULT'}` }, () => repo.setRateLimitPoints(tenantId, points, now()));
    },

    /** Each tenant's rate-limit points, null where the default applies (Tenant.rateLimitPoints). */
    async rateLimitsOf(tenantIds: readonly string[]): Promise<(number | null)[]> {
      const known = await repo.rateLimitPointsOf(tenantIds);
      return tenantIds.map((id) => known.get(id) ?? null);
    },

    async registerPersistedOperations(tenantId: string, manifest: ManifestInput, replace: boolean, audit: ActionAuditor): Promise<RegistrationCounts> {
      if (manifest.format !== MANIFEST_FORMAT) throw badInput('manifest.format', `format must be ${MANIFEST_FORMAT}`);
      if (manifest.version !== 1) throw badInput('manifest.version', 'version must be 1');
      const count = manifest.operations.length;
      if (count > PERSISTED_OPERATION_LIMITS.perManifest) {
        throw badInput('manifest.operations', `at most ${PERSISTED_OPERATION_LIMITS.perManifest} operations per call (register a larger manifest in parts)`);
      }
      if (count === 0 && !replace) throw badInput('manifest.operations', 'no operations to add (replace: true with an empty manifest clears the set)');
      const seen = new Set<string>();
      const operations = manifest.operations.map((op, index) => {
        const checked = checkOperation(op, `manifest.operations.${index}`);
        if (seen.has(checked.operationId)) throw badInput(`manifest.operations.${index}.id`, 'the manifest holds this operation twice');
        seen.add(checked.operationId);
        return checked;
      });
      const tooMany = () => badInput('manifest.operations', `a tenant holds at most ${PERSISTED_OPERATION_LIMITS.perTenant} operations`);
      if (!replace) {
        const existing = new Set(await repo.operationIds(tenantId));
        if (existing.size + operations.filter((op) => !existing.has(op.operationId)).length > PERSISTED_OPERATION_LIMITS.perTenant) throw tooMany();
      }
      return auditedEffect(audit, 'OPERATION_MANIFEST_REGISTER', { tenantId, field: `PersistedOperations.${replace ? 'REPLACE' : 'ADD'}.${count}` }, async () => {
        const counts = await repo.registerOperations(tenantId, operations, replace, PERSISTED_OPERATION_LIMITS.perTenant, now());
        if (!counts) throw tooMany();
        return counts;
      });
    },

    /** The gateway's view of a tenant, by the IdP organization its tokens carry. */
    async policyOf(organizationId: string): Promise<TenantPolicy> {
      const tenant = await deps.resolveTenant(organizationId);
      if (!tenant) return { tenantId: null, mode: 'OFF', operationIds: [], rateLimitPoints: null };
      const [row, operationIds] = await Promise.all([repo.findSettings(tenant.tenantId), repo.operationIds(tenant.tenantId)]);
      return { tenantId: tenant.tenantId, mode: row?.safelistMode ?? 'OFF', operationIds, rateLimitPoints: row?.rateLimitPoints ?? null };
    },

    operationBody: (operationId: string) => repo.bodyOf(operationId),

    allowedOrigins: () => repo.allOrigins(),

    recordReports: (reports: SafelistReport[]) => repo.addReports(reports, MAX_REPORTED_OPERATIONS_PER_TENANT, now()),
  };
}
