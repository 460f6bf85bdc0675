import type { DataSource } from 'typeorm';
import { qualifiedTable } from '../../../../../shared/db/data-source';
import type { SafelistMode, SafelistReport } from '../../../../../shared/tenant-policy-client';
import type { PersistedOperationRow, SafelistReportRow, TenantSettingsRow } from '../entities/tenant-settings';

export type TenantSettingsRepository = ReturnType<typeof createTenantSettingsRepository>;

export type RegisteredOperationRow = Omit<PersistedOperationRow, 'body' | 'tenantId'>;

export interface RegistrationCounts {
  added: number;
  unchanged: number;
  removed: number;
  total: number;
}

const SETTINGS_COLUMNS = `tenant_id AS "tenantId", safelist_mode AS "safelistMode", allowed_origins AS "allowedOrigins",
  storefront_clients AS "storefrontClients", rate_limit_points AS "rateLimitPoints", reported_count::text AS "reportedCount", updated_at AS "updatedAt"`;

export function createTenantSettingsRepository(dataSource: DataSource) {
  const settings = qualifiedTable(dataSource, 'tenant_settings');
  const operations = qualifiedTable(dataSource, 'persisted_operation');
  const reports = qualifiedTable(dataSource, 'safelist_report');
  const tenants = qualifiedTable(dataSource, 'tenant');

  return {
    async findSettings(tenantId: string): Promise<TenantSettingsRow | null> {
      const [row] = await dataSource.query(`SELECT ${SETTINGS_COLUMNS} FROM ${settings} WHERE tenant_id = $1`, [tenantId]);
      return row ?? null;
    },

    async setMode(tenantId: string, mode: SafelistMode, at: Date): Promise<void> {
      await dataSource.query(
        `INSERT INTO ${settings} (tenant_id, safelist_mode, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET safelist_mode = EXCLUDED.safelist_mode, updated_at = EXCLUDED.updated_at`,
        [tenantId, mode, at],
      );
    },

    async setOrigins(tenantId: string, origins: string[], at: Date): Promise<void> {
      await dataSource.query(
        `INSERT INTO ${settings} (tenant_id, allowed_origins, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET allowed_origins = EXCLUDED.allowed_origins, updated_at = EXCLUDED.updated_at`,
        [tenantId, origins, at],
      );
    },

    async setStorefrontClients(tenantId: string, clientIds: string[], at: Date): Promise<void> {
      await dataSource.query(
        `INSERT INTO ${settings} (tenant_id, storefront_clients, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET storefront_clients = EXCLUDED.storefront_clients, updated_at = EXCLUDED.updated_at`,
        [tenantId, clientIds, at],
      );
    },

    async tenantExists(tenantId: string): Promise<boolean> {
      const rows: unknown[] = await dataSource.query(`SELECT 1 FROM ${tenants} WHERE id = $1`, [tenantId]);
      return rows.length > 0;
    },

    async setRateLimitPoints(tenantId: string, points: number | null, at: Date): Promise<void> {
      await dataSource.query(
        `INSERT INTO ${settings} (tenant_id, rate_limit_points, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET rate_limit_points = EXCLUDED.rate_limit_points, updated_at = EXCLUDED.updated_at`,
        [tenantId, points, at],
      );
    },

    /** Each tenant's rate-limit points (absent: no settings row, the default). */
    async rateLimitPointsOf(tenantIds: readonly string[]): Promise<Map<string, number | null>> {
      const rows: { tenantId: string; points: number | null }[] = await dataSource.query(
        `SELECT tenant_id AS "tenantId", rate_limit_points AS points FROM ${settings} WHERE tenant_id = ANY($1::uuid[])`,
        [tenantIds],
      );
      return new Map(rows.map((row) => [row.tenantId, row.points]));
    },

    /** The client ids of the tenant's storefront apps (none for an unknown tenant). */
    async storefrontClientsOf(tenantId: string): Promise<string[]> {
      const [row] = await dataSource.query(`SELECT storefront_clients AS "clientIds" FROM ${settings} WHERE tenant_id = $1`, [tenantId]);
      return row?.clientIds ?? [];
    },

    /** The tenant's operations without their bodies, by name. */
    listOperations(tenantId: string): Promise<RegisteredOperationRow[]> {
      return dataSource.query(
        `SELECT operation_id AS "operationId", name, type, registered_at AS "registeredAt" FROM ${operations}
         WHERE tenant_id = $1 ORDER BY name, operation_id`,
        [tenantId],
      );
    },

    async operationIds(tenantId: string): Promise<string[]> {
      const rows: { id: string }[] = await dataSource.query(`SELECT operation_id AS id FROM ${operations} WHERE tenant_id = $1`, [tenantId]);
      return rows.map((row) => row.id);
    },

    /** Any tenant's body with that id: the id is the body's hash, so they are all the same text. */
    async bodyOf(operationId: string): Promise<string | null> {
      const [row] = await dataSource.query(`SELECT body FROM ${operations} WHERE operation_id = $1 LIMIT 1`, [operationId]);
      return row?.body ?? null;
    },

    /**
     * Adds the operations (or replaces the tenant's whole set with them) in one transaction, under a lock
     * on the tenant so concurrent registrations cannot pass the limit together. Returns null, writing
     * nothing, when the result would hold more than `limit` operations. Reports about documents that are
     * now registered are dropped.
     */
    async registerOperations(
      tenantId: string,
      given: Omit<PersistedOperationRow, 'tenantId' | 'registeredAt'>[],
      replace: boolean,
      limit: number,
      at: Date,
    ): Promise<RegistrationCounts | null> {
      return dataSource.transaction(async (tx) => {
        await tx.query(`SELECT 1 FROM ${tenants} WHERE id = $1 FOR UPDATE`, [tenantId]);
        const rows: { id: string }[] = await tx.query(`SELECT operation_id AS id FROM ${operations} WHERE tenant_id = $1`, [tenantId]);
        const existing = new Set(rows.map((row) => row.id));
        const wanted = new Set(given.map((op) => op.operationId));
        const added = given.filter((op) => !existing.has(op.operationId));
        const removed = replace ? [...existing].filter((id) => !wanted.has(id)) : [];
        const total = existing.size + added.length - removed.length;
        if (total > limit) return null;
        if (removed.length > 0) {
          await tx.query(`DELETE FROM ${operations} WHERE tenant_id = $1 AND operation_id = ANY($2::text[])`, [tenantId, removed]);
        }
        if (added.length > 0) {
          await tx.query(
            `INSERT INTO ${operations} (tenant_id, operation_id, name, type, body, registered_at)
             SELECT $1, id, name, type, body, $6 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(id, name, type, body)`,
            [tenantId, added.map((op) => op.operationId), added.map((op) => op.name), added.map((op) => op.type), added.map((op) => op.body), at],
          );
        }
        if (wanted.size > 0) {
          await tx.query(`DELETE FROM ${reports} WHERE tenant_id = $1 AND operation_id = ANY($2::text[])`, [tenantId, [...wanted]]);
        }
        return { added: added.length, unchanged: given.length - added.length, removed: removed.length, total };
      });
    },

    /** The union of every tenant's allowed origins. */
    async allOrigins(): Promise<string[]> {
      const rows: { origin: string }[] = await dataSource.query(`SELECT DISTINCT unnest(allowed_origins) AS origin FROM ${settings} ORDER BY 1`);
      return rows.map((row) => row.origin);
    },

    /**
     * Adds the gateway's REPORT counts: the tenant's total always, the document itself only while the
     * tenant has fewer than `maxPerTenant` distinct ones recorded (a hostile caller can send endless
     * distinct documents). Documents registered in the meantime are not recorded.
     */
    async addReports(batch: SafelistReport[], maxPerTenant: number, at: Date): Promise<number> {
      let accepted = 0;
      await dataSource.transaction(async (tx) => {
        for (const report of batch) {
          const known: unknown[] = await tx.query(`SELECT 1 FROM ${tenants} WHERE id = $1`, [report.tenantId]);
          if (known.length === 0) continue;
          await tx.query(
            `INSERT INTO ${settings} (tenant_id, reported_count, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id) DO UPDATE SET reported_count = ${settings}.reported_count + EXCLUDED.reported_count`,
            [report.tenantId, report.count, at],
          );
          await tx.query(
            `INSERT INTO ${reports} (tenant_id, operation_id, operation_name, count, first_seen_at, last_seen_at)
             SELECT $1, $2, $3, $4, $5, $5
             WHERE NOT EXISTS (SELECT 1 FROM ${operations} WHERE tenant_id = $1 AND operation_id = $2)
               AND (EXISTS (SELECT 1 FROM ${reports} WHERE tenant_id = $1 AND operation_id = $2)
                    OR (SELECT count(*) FROM ${reports} WHERE tenant_id = $1) < $6)
             ON CONFLICT (tenant_id, operation_id) DO UPDATE SET
               count = ${reports}.count + EXCLUDED.count,
               operation_name = COALESCE(EXCLUDED.operation_name, ${reports}.operation_name),
               last_seen_at = GREATEST(${reports}.last_seen_at, EXCLUDED.last_seen_at)`,
            [report.tenantId, report.operationId, report.operationName, report.count, new Date(report.lastSeenAt), maxPerTenant],
          );
          accepted += 1;
        }
      });
      return accepted;
    },

    /** The documents REPORT mode recorded for the tenant, most recently seen first. */
    listReports(tenantId: string, limit: number): Promise<SafelistReportRow[]> {
      return dataSource.query(
        `SELECT tenant_id AS "tenantId", operation_id AS "operationId", operation_name AS "operationName", count::text AS count,
           first_seen_at AS "firstSeenAt", last_seen_at AS "lastSeenAt"
         FROM ${reports} WHERE tenant_id = $1 ORDER BY last_seen_at DESC, operation_id LIMIT $2`,
        [tenantId, limit],
      );
    },
  };
}
