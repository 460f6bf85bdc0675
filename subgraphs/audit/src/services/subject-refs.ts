import type { ExtendedDirectory } from '../../../../shared/directory-client';
import type { AuditEventRow } from '../db/entities';

/**
 * Subject ids never leave the audit service: an event shows the pairwise ref its own tenant knows the
 * subject by. One directory call per tenant in the rows; `refOf(row)` is null when no tenant was involved.
 */
export async function subjectRefs(directory: ExtendedDirectory, rows: Pick<AuditEventRow, 'tenantId' | 'subjectId'>[]) {
  const byTenant = new Map<string, Set<string>>();
  for (const row of rows) {
    if (row.tenantId && row.subjectId) byTenant.set(row.tenantId, (byTenant.get(row.tenantId) ?? new Set()).add(row.subjectId));
  }
  const refs = new Map<string, string>();
  await Promise.all(
    [...byTenant].map(async ([tenantId, subjects]) => {
      for (const [subjectId, ref] of await directory.refsForSubjects(tenantId, [...subjects])) refs.set(`${tenantId}/${subjectId}`, ref);
    }),
  );
  return (row: Pick<AuditEventRow, 'tenantId' | 'subjectId'>): string | null =>
    row.tenantId && row.subjectId ? (refs.get(`${row.tenantId}/${row.subjectId}`) ?? null) : null;
}

/**
 * The staff user behind a member's event (TENANT_MEMBER), as the tenant and platform admins see it. Other
 * actor ids stay inside: a subject's is an internal id; a backend's client id and an admin's IdP id add
 * nothing the actor type does not say.
 */
export const memberIdOf = (row: Pick<AuditEventRow, 'actorType' | 'actorId'>): string | null => (row.actorType === 'TENANT_MEMBER' ? row.actorId : null);
