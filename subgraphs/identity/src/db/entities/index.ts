import { EntitySchema } from 'typeorm';
import type { SubjectStatus } from '../../../../../shared/auth/principal';
import { IdpEventEntity } from './idp-event';
import { rightsEntities } from './rights';
import { webhookEntities } from './webhooks';
import { tenantSettingsEntities } from './tenant-settings';

export interface SubjectRow {
  id: string;
  issuer: string;
  sub: string;
  status: SubjectStatus;
  createdAt: Date;
}

export interface TenantRow {
  id: string;
  name: string;
  idpOrganizationId: string;
  createdAt: Date;
}

/** BLOCKED: the tenant's admin blocked the user for that tenant (the subject stays usable elsewhere). */
export type TenantLinkStatus = 'ACTIVE' | 'BLOCKED';

export interface TenantLinkRow {
  tenantId: string;
  subjectId: string;
  ref: string;
  status: TenantLinkStatus;
  createdAt: Date;
}

export const SubjectEntity = new EntitySchema<SubjectRow>({
  name: 'Subject',
  tableName: 'subject',
  columns: {
    id: { type: 'uuid', primary: true },
    issuer: { type: 'text' },
    sub: { type: 'text' },
    status: { type: 'text' },
    createdAt: { type: 'timestamptz', name: 'created_at' },
  },
});

export const TenantEntity = new EntitySchema<TenantRow>({
  name: 'Tenant',
  tableName: 'tenant',
  columns: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    idpOrganizationId: { type: 'text', name: 'idp_organization_id' },
    createdAt: { type: 'timestamptz', name: 'created_at' },
  },
});

export const TenantLinkEntity = new EntitySchema<TenantLinkRow>({
  name: 'TenantLink',
  tableName: 'tenant_link',
  columns: {
    tenantId: { type: 'uuid', primary: true, name: 'tenant_id' },
    subjectId: { type: 'uuid', primary: true, name: 'subject_id' },
    ref: { type: 'text' },
    status: { type: 'text' },
    createdAt: { type: 'timestamptz', name: 'created_at' },
  },
});

export { IdpEventEntity, type IdpEventRow } from './idp-event';
export * from './rights';
export * from './webhooks';
export * from './tenant-settings';

export const entities = [SubjectEntity, TenantEntity, TenantLinkEntity, IdpEventEntity, ...rightsEntities, ...webhookEntities, ...tenantSettingsEntities];
