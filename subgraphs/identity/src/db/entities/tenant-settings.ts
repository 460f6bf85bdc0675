import { EntitySchema } from 'typeorm';
import type { SafelistMode } from '../../../../../shared/tenant-policy-client';

/** A tenant's settings (see migration 1764700000000-tenant-settings); no row = the defaults. */
export interface TenantSettingsRow {
  tenantId: string;
  safelistMode: SafelistMode;
  allowedOrigins: string[];
  /** OIDC client ids of the tenant's storefront apps, the only apps a passport for the tenant is issued to (migration 1764800000000). */
  storefrontClients: string[];
  /** Points per rate-limit window for each of the tenant's principals; null = the deployment default (migration 1764900000000). */
  rateLimitPoints: number | null;
  /** Requests in REPORT mode the safelist would have refused, as the gateway reported them. */
  reportedCount: string;
  updatedAt: Date;
}

/** One registered persisted operation of a tenant; `operationId` = SHA-256 (hex) of `body`. */
export interface PersistedOperationRow {
  tenantId: string;
  operationId: string;
  name: string;
  type: 'query' | 'mutation';
  body: string;
  registeredAt: Date;
}

/** An unregistered document a tenant sent in REPORT mode, with how often. */
export interface SafelistReportRow {
  tenantId: string;
  operationId: string;
  operationName: string | null;
  count: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

export const TenantSettingsEntity = new EntitySchema<TenantSettingsRow>({
  name: 'TenantSettings',
  tableName: 'tenant_settings',
  columns: {
    tenantId: { type: 'uuid', primary: true, name: 'tenant_id' },
    safelistMode: { type: 'text', name: 'safelist_mode' },
    allowedOrigins: { type: 'text', array: true, name: 'allowed_origins' },
    storefrontClients: { type: 'text', array: true, name: 'storefront_clients' },
    rateLimitPoints: { type: 'integer', name: 'rate_limit_points', nullable: true },
    reportedCount: { type: 'bigint', name: 'reported_count' },
    updatedAt: { type: 'timestamptz', name: 'updated_at' },
  },
});

export const PersistedOperationEntity = new EntitySchema<PersistedOperationRow>({
  name: 'PersistedOperation',
  tableName: 'persisted_operation',
  columns: {
    tenantId: { type: 'uuid', primary: true, name: 'tenant_id' },
    operationId: { type: 'text', primary: true, name: 'operation_id' },
    name: { type: 'text' },
    type: { type: 'text' },
    body: { type: 'text' },
    registeredAt: { type: 'timestamptz', name: 'registered_at' },
  },
});

export const SafelistReportEntity = new EntitySchema<SafelistReportRow>({
  name: 'SafelistReport',
  tableName: 'safelist_report',
  columns: {
    tenantId: { type: 'uuid', primary: true, name: 'tenant_id' },
    operationId: { type: 'text', primary: true, name: 'operation_id' },
    operationName: { type: 'text', name: 'operation_name', nullable: true },
    count: { type: 'bigint' },
    firstSeenAt: { type: 'timestamptz', name: 'first_seen_at' },
    lastSeenAt: { type: 'timestamptz', name: 'last_seen_at' },
  },
});

export const tenantSettingsEntities = [TenantSettingsEntity, PersistedOperationEntity, SafelistReportEntity];
