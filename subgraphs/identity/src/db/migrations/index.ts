import { Initial1732250000000 } from './1732250000000-initial';
import { Rights1764200000000 } from './1764200000000-rights';
import { Webhooks1764300000000 } from './1764300000000-webhooks';
import { IdpEvents1764400000000 } from './1764400000000-idp-events';
import { DataExport1764500000000 } from './1764500000000-data-export';
import { TenantSettings1764700000000 } from './1764700000000-tenant-settings';
import { TenantLinkStatus1764600000000 } from './1764600000000-tenant-link-status';
import { StorefrontClients1764800000000 } from './1764800000000-storefront-clients';
import { TenantRateLimit1764900000000 } from './1764900000000-tenant-rate-limit';

export const migrations = [Initial1732250000000, Rights1764200000000, Webhooks1764300000000, IdpEvents1764400000000, DataExport1764500000000, TenantLinkStatus1764600000000, TenantSettings1764700000000, StorefrontClients1764800000000, TenantRateLimit1764900000000];
