import DataLoader from 'dataloader';
import type { Request } from 'express';
import { createActionAuditor, type ActionAuditor } from '../../../shared/audit/actions';
import type { AuditSink } from '../../../shared/audit/events';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import { withDirectoryCache } from '../../../shared/directory-client';
import { requestContext, type ServiceContext } from '../../../shared/context';
import type { TenantRow } from './db/entities';
import type { ExportDownloads } from './services/export-download';
import type { IdentityService, UserView } from './services/identity-service';
import type { PassportService } from './services/passport-service';
import type { TenantAdminService } from './services/tenant-admin-service';
import type { RightsService } from './services/rights-service';
import type { WebhookService } from './services/webhook-service';
import type { TenantSettingsService } from './services/tenant-settings-service';

export interface IdentityContext extends ServiceContext {
  identity: IdentityService;
  /** Records tenant creation and connection before they take effect. */
  audit: ActionAuditor;
  users: DataLoader<string, UserView | null>;
  tenants: DataLoader<string, TenantRow | null>;
  /** Tenant.rateLimitPoints, one query for a page of tenants. */
  tenantRateLimits: DataLoader<string, number | null>;
  /** Data export download links (services/export-download.ts). */
  dataExports: ExportDownloads;
  /** Webhook endpoints and deliveries (services/webhook-service.ts). */
  webhooks: WebhookService;
  /** Data subject requests (services/rights-service.ts). */
  rights: RightsService;
  /** Safelist mode, persisted operations, allowed origins (services/tenant-settings-service.ts). */
  tenantSettings: TenantSettingsService;
  /** Passports for shop logins (services/passport-service.ts). */
  passports: PassportService;
  /** Blocking, suspension, tenant updates (services/tenant-admin-service.ts). */
  tenantAdmin: TenantAdminService;
}

export function createContextFactory(deps: { verifier: TokenVerifier; identity: IdentityService; audit: AuditSink; dataExports: ExportDownloads; webhooks: WebhookService; rights: RightsService; passports: PassportService; tenantAdmin: TenantAdminService; tenantSettings: TenantSettingsService; now: () => Date }) {
  const directory = withDirectoryCache(deps.identity.directory);
  return async (req: Request): Promise<IdentityContext> => {
    const base = await requestContext(req, deps.verifier, directory);
    return {
      ...base,
      identity: deps.identity,
      dataExports: deps.dataExports,
      webhooks: deps.webhooks,
      rights: deps.rights,
      tenantSettings: deps.tenantSettings,
      passports: deps.passports,
      tenantAdmin: deps.tenantAdmin,
      audit: createActionAuditor(deps.audit, base, deps.now),
      users: new DataLoader((ids) => deps.identity.userViews(base.principal, ids)),
      tenantRateLimits: new DataLoader((ids) => deps.tenantSettings.rateLimitsOf(ids)),
      tenants: new DataLoader(async (ids) => {
        const found = new Map((await deps.identity.listTenantsByIds(ids)).map((t) => [t.id, t]));
        return ids.map((id) => found.get(id) ?? null);
      }),
    };
  };
}
