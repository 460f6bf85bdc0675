import { randomUUID } from 'node:crypto';
import { In, type DataSource } from 'typeorm';
import { qualifiedTable } from '../../../../../shared/db/data-source';
import { rethrowUniqueViolation } from '../../../../../shared/db/errors';
import { SubjectEntity, TenantEntity, TenantLinkEntity, type SubjectRow, type TenantLinkRow, type TenantRow } from '../entities';

export type IdentityRepository = ReturnType<typeof createIdentityRepository>;

export function createIdentityRepository(dataSource: DataSource) {
  const subjects = dataSource.getRepository(SubjectEntity);
  const tenants = dataSource.getRepository(TenantEntity);
  const links = dataSource.getRepository(TenantLinkEntity);
  const subjectTable = qualifiedTable(dataSource, 'subject');
  const linkTable = qualifiedTable(dataSource, 'tenant_link');
  const requestTable = qualifiedTable(dataSource, 'data_subject_request');

  return {
    /** One statement: returns the subject bound to (issuer, sub), inserting it on first sight. */
    async upsertSubject(issuer: string, sub: string): Promise<Pick<SubjectRow, 'id' | 'status'>> {
      const rows: { id: string; status: SubjectRow['status'] }[] = await dataSource.query(
        `INSERT INTO ${subjectTable} (id, issuer, sub) VALUES ($1, $2, $3)
         ON CONFLICT (issuer, sub) DO UPDATE SET issuer = EXCLUDED.issuer
         RETURNING id, status`,
        [randomUUID(), issuer, sub],
      );
      return rows[0];
    },

    findSubjectsByIds(ids: readonly string[]): Promise<SubjectRow[]> {
      return subjects.findBy({ id: In([...ids]) });
    },

    /** Throws UniqueViolation when another tenant already answers to the organization id. */
    async insertTenant(tenant: TenantRow): Promise<void> {
      await tenants.insert(tenant).catch(rethrowUniqueViolation);
    },

    findTenantsByIds(ids: readonly string[]): Promise<TenantRow[]> {
      return tenants.findBy({ id: In([...ids]) });
    },

    findTenantByOrganization(idpOrganizationId: string): Promise<TenantRow | null> {
      return tenants.findOneBy({ idpOrganizationId });
    },

    listTenants(): Promise<TenantRow[]> {
      return tenants.find({ order: { createdAt: 'ASC', id: 'ASC' } });
    },

    /**
     * Inserts the link unless it exists; returns the stored one either way (idempotent connect), or null
     * when the subject is not active or an erasure of it is open (checked in the same statement).
     */
    async insertLinkIfAbsent(link: TenantLinkRow): Promise<TenantLinkRow | null> {
      await dataSource.query(
        `INSERT INTO ${linkTable} (tenant_id, subject_id, ref, created_at)
         SELECT $1, $2, $3, $4
          WHERE EXISTS (SELECT 1 FROM ${subjectTable} WHERE id = $2 AND status = 'ACTIVE')
            AND NOT EXISTS (SELECT 1 FROM ${requestTable} WHERE subject_id = $2 AND kind = 'ERASURE' AND completed_at IS NULL)
         ON CONFLICT (tenant_id, subject_id) DO NOTHING`,
        [link.tenantId, link.subjectId, link.ref, link.createdAt],
      );
      return links.findOneBy({ tenantId: link.tenantId, subjectId: link.subjectId });
    },

    /** Whether an erasure of the subject is open (a new tenant connection is then refused). */
    async hasOpenErasure(subjectId: string): Promise<boolean> {
      const rows = await dataSource.query(`SELECT 1 FROM ${requestTable} WHERE subject_id = $1 AND kind = 'ERASURE' AND completed_at IS NULL LIMIT 1`, [subjectId]);
      return rows.length > 0;
    },

    findLinkByRef(tenantId: string, ref: string): Promise<TenantLinkRow | null> {
      return links.findOneBy({ tenantId, ref });
    },

    /** The link and its subject's status in one statement (the hot path of user(ref)). */
    async findLinkedSubjectByRef(
      tenantId: string,
      ref: string,
    ): Promise<(Omit<TenantLinkRow, 'status'> & { status: SubjectRow['status']; linkStatus: TenantLinkRow['status'] }) | null> {
      const rows = await dataSource.query(
        `SELECT l.tenant_id AS "tenantId", l.subject_id AS "subjectId", l.ref, l.created_at AS "createdAt", s.status, l.status AS "linkStatus"
           FROM ${linkTable} l JOIN ${subjectTable} s ON s.id = l.subject_id
          WHERE l.tenant_id = $1 AND l.ref = $2`,
        [tenantId, ref],
      );
      return rows[0] ?? null;
    },

    findLinksBySubjects(tenantId: string, subjectIds: readonly string[]): Promise<TenantLinkRow[]> {
      return links.findBy({ tenantId, subjectId: In([...subjectIds]) });
    },

    findLinksOfSubject(subjectId: string): Promise<TenantLinkRow[]> {
      return links.find({ where: { subjectId }, order: { createdAt: 'ASC' } });
    },

    /** Keyset page over a tenant's links, ordered by ref (stable, reveals nothing about sign-up order). */
    pageLinks(tenantId: string, afterRef: string | null, limit: number): Promise<TenantLinkRow[]> {
      const query = links
        .createQueryBuilder('link')
        .where('link.tenant_id = :tenantId', { tenantId })
        .orderBy('link.ref', 'ASC')
        .limit(limit);
      if (afterRef !== null) query.andWhere('link.ref > :afterRef', { afterRef });
      return query.getMany();
    },
  };
}
