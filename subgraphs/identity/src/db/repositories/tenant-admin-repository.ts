import type { DataSource } from 'typeorm';
import { changedRows, qualifiedTable } from '../../../../../shared/db/data-source';
import { rethrowUniqueViolation } from '../../../../../shared/db/errors';
import type { SubjectRow, TenantLinkRow, TenantLinkStatus, TenantRow } from '../entities';

export type TenantAdminRepository = ReturnType<typeof createTenantAdminRepository>;

/** Where a subject stands with one tenant: what a passport and the vault's standing check need. */
export interface SubjectStanding {
  tenantExists: boolean;
  subjectStatus: SubjectRow['status'] | null;
  link: Pick<TenantLinkRow, 'ref' | 'status'> | null;
}

export function createTenantAdminRepository(dataSource: DataSource) {
  const tenantTable = qualifiedTable(dataSource, 'tenant');
  const subjectTable = qualifiedTable(dataSource, 'subject');
  const linkTable = qualifiedTable(dataSource, 'tenant_link');

  const findLinkByRef = async (tenantId: string, ref: string): Promise<(TenantLinkRow & { subjectStatus: SubjectRow['status'] }) | null> => {
    const rows = await dataSource.query(
      `SELECT l.tenant_id AS "tenantId", l.subject_id AS "subjectId", l.ref, l.status, l.created_at AS "createdAt", s.status AS "subjectStatus"
         FROM ${linkTable} l JOIN ${subjectTable} s ON s.id = l.subject_id
        WHERE l.tenant_id = $1 AND l.ref = $2`,
      [tenantId, ref],
    );
    return rows[0] ?? null;
  };

  return {
    /** The tenant, the subject's status and its link to the tenant, in one statement. */
    async findStanding(tenantId: string, subjectId: string): Promise<SubjectStanding> {
      const rows: { tenant: string | null; subject_status: SubjectRow['status'] | null; ref: string | null; link_status: TenantLinkStatus | null }[] =
        await dataSource.query(
          `SELECT t.id AS tenant, s.status AS subject_status, l.ref, l.status AS link_status
             FROM (SELECT $1::uuid AS tenant_id, $2::uuid AS subject_id) q
             LEFT JOIN ${tenantTable} t ON t.id = q.tenant_id
             LEFT JOIN ${subjectTable} s ON s.id = q.subject_id
             LEFT JOIN ${linkTable} l ON l.tenant_id = q.tenant_id AND l.subject_id = q.subject_id`,
          [tenantId, subjectId],
        );
      const row = rows[0];
      return {
        tenantExists: row?.tenant != null,
        subjectStatus: row?.subject_status ?? null,
        link: row?.ref != null && row.link_status ? { ref: row.ref, status: row.link_status } : null,
      };
    },

    /** For each subject linked to the tenant: BLOCKED when the tenant blocked it or the subject is not ACTIVE. */
    async standingsOf(tenantId: string, subjectIds: readonly string[]): Promise<Map<string, TenantLinkStatus>> {
      const rows: { subject_id: string; standing: TenantLinkStatus }[] = await dataSource.query(
        `SELECT l.subject_id, CASE WHEN l.status = 'ACTIVE' AND s.status = 'ACTIVE' THEN 'ACTIVE' ELSE 'BLOCKED' END AS standing
           FROM ${linkTable} l JOIN ${subjectTable} s ON s.id = l.subject_id
          WHERE l.tenant_id = $1 AND l.subject_id = ANY ($2::uuid[])`,
        [tenantId, [...subjectIds]],
      );
      return new Map(rows.map((r) => [r.subject_id, r.standing]));
    },

    /** Sets the link's status; returns the link with its subject's status, or null when the ref is not the tenant's. */
    async setLinkStatus(
      tenantId: string,
      ref: string,
      status: TenantLinkStatus,
      at: Date,
    ): Promise<(TenantLinkRow & { subjectStatus: SubjectRow['status'] }) | null> {
      const changed = await changedRows<{ subjectId: string }>(
        dataSource,
        `UPDATE ${linkTable} SET status = $3, status_changed_at = $4 WHERE tenant_id = $1 AND ref = $2 RETURNING subject_id AS "subjectId"`,
        [tenantId, ref, status, at],
      );
      if (changed.length === 0) return null;
      return findLinkByRef(tenantId, ref);
    },

    findLinkByRef: (tenantId: string, ref: string) => findLinkByRef(tenantId, ref),

    async findSubject(subjectId: string): Promise<Pick<SubjectRow, 'id' | 'issuer' | 'sub' | 'status'> | null> {
      const rows = await dataSource.query(`SELECT id, issuer, sub, status FROM ${subjectTable} WHERE id = $1`, [subjectId]);
      return rows[0] ?? null;
    },

    async findTenants(ids: string[]): Promise<TenantRow[]> {
      return dataSource.query(`SELECT id, name, idp_organization_id AS "idpOrganizationId", created_at AS "createdAt" FROM ${tenantTable} WHERE id = ANY ($1::uuid[])`, [ids]);
    },

    async findTenantIdByOrganization(idpOrganizationId: string): Promise<string | null> {
      const rows: { id: string }[] = await dataSource.query(`SELECT id FROM ${tenantTable} WHERE idp_organization_id = $1`, [idpOrganizationId]);
      return rows[0]?.id ?? null;
    },

    /** Throws UniqueViolation when another tenant already answers to the organization id; null when there is no such tenant. */
    async updateTenant(id: string, change: { name?: string; idpOrganizationId?: string }): Promise<TenantRow | null> {
      const rows = await changedRows<TenantRow>(
        dataSource,
        `UPDATE ${tenantTable} SET name = COALESCE($2, name), idp_organization_id = COALESCE($3, idp_organization_id)
          WHERE id = $1
          RETURNING id, name, idp_organization_id AS "idpOrganizationId", created_at AS "createdAt"`,
        [id, change.name ?? null, change.idpOrganizationId ?? null],
      ).catch(rethrowUniqueViolation);
      return rows[0] ?? null;
    },
  };
}
