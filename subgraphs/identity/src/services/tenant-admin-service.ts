import { auditedEffect, type ActionAuditor } from '../../../../shared/audit/actions';
import type { TenantPrincipal } from '../../../../shared/auth/principal';
import { isUuid } from '../../../../shared/db/data-source';
import { UniqueViolation } from '../../../../shared/db/errors';
import type { DirectoryChange } from '../../../../shared/directory-client';
import { badInput, notFound } from '../../../../shared/errors';
import { checkAdminReason } from '../../../../shared/pii';
import { checkText, isLookupKey } from '../../../../shared/validation';
import type { Standing } from '../../../../shared/standing-client';
import type { SubjectRow, TenantLinkStatus, TenantRow } from '../db/entities';
import type { IdpEventRepository } from '../db/repositories/idp-event-repository';
import type { TenantAdminRepository } from '../db/repositories/tenant-admin-repository';
import { userNotFound } from '../errors';
import type { SubjectEventEmitter } from './idp-event-service';
import { ORGANIZATION_ID_PATTERN, statusForTenant, type UserView } from './identity-service';

export interface UpdateTenantInput {
  name?: string | null;
  idpOrganizationId?: string | null;
}

export type TenantAdminService = ReturnType<typeof createTenantAdminService>;

/**
 * What admins change about users and tenants: a tenant admin blocks a user for its own shop (a status
 * on the tenant link), a platform admin suspends a subject everywhere (the subject's status, as an IdP
 * suspension does) and renames a tenant or fixes its IdP organization id. Each change is audited first.
 */
export function createTenantAdminService(deps: {
  repo: TenantAdminRepository;
  /** The suspension transaction the IdP's events use (status, webhook outbox, in one commit). */
  suspensions: Pick<IdpEventRepository, 'inSuspensionTransaction'>;
  webhooks: SubjectEventEmitter;
  /** Drops changed entries from this process's directory caches (identity-service.ts directoryChanged). */
  directoryChanged: (change: DirectoryChange) => void;
  now: () => Date;
}) {
  const { repo, now } = deps;

  async function setBlock(principal: TenantPrincipal, ref: string, status: TenantLinkStatus, audit: ActionAuditor, reason: string | null): Promise<UserView> {
    // A value that cannot be a ref names no user: the same answer as a foreign ref.
    const link = isLookupKey(ref) ? await repo.findLinkByRef(principal.tenantId, ref) : null;
    // An erased subject is a tombstone no tenant can look up: the same answer as a foreign ref.
    if (!link || link.subjectStatus === 'ERASED') throw userNotFound();
    return auditedEffect(audit, status === 'BLOCKED' ? 'USER_BLOCK' : 'USER_UNBLOCK', { subjectId: link.subjectId, purpose: reason }, async () => {
      const changed = await repo.setLinkStatus(principal.tenantId, ref, status, now());
      if (!changed) throw userNotFound();
      return { id: changed.subjectId, ref: changed.ref, status: statusForTenant(changed.subjectStatus, changed.status), createdAt: changed.createdAt };
    });
  }

  async function setSuspension(subjectId: string, target: 'ACTIVE' | 'BLOCKED', reason: string, audit: ActionAuditor): Promise<SubjectRow['status']> {
    const code = checkAdminReason(reason);
    const subject = isUuid(subjectId) ? await repo.findSubject(subjectId) : null;
    if (!subject || subject.status === 'ERASED') throw notFound('Subject');
    const status = await auditedEffect(audit, 'SUBJECT_SUSPEND', { subjectId, tenantId: null, field: `Subject.${target}`, purpose: code }, () => deps.suspensions.inSuspensionTransaction(async (t) => {
      const locked = await t.lockSubject(subjectId);
      if (!locked || locked.status === 'ERASED') return locked?.status ?? 'ERASED';
      const changed = await t.setSubjectStatus(subjectId, target);
      // Each connected shop is told, with the ref it knows, in the transaction that blocks (as for an IdP suspension).
      if (changed && target === 'BLOCKED') {
        const links = await t.linksOfSubject(subjectId);
        if (links.length > 0) {
          await deps.webhooks.emit(t.tx, links.map(({ tenantId, ref }) => ({ tenantId, type: 'subject.blocked' as const, data: { tenantId, ref } })));
        }
      }
      return target;
    }));
    deps.directoryChanged({ kind: 'subject', issuer: subject.issuer, sub: subject.sub });
    return status;
  }

  return {
    /** A tenant admin blocks one of its users for its tenant only (audited USER_BLOCK with the reason code). */
    blockUser(principal: TenantPrincipal, ref: string, reason: string, audit: ActionAuditor): Promise<UserView> {
      return setBlock(principal, ref, 'BLOCKED', audit, checkAdminReason(reason));
    },

    /** Lifts the tenant's own block (audited USER_UNBLOCK); a platform suspension stays. */
    unblockUser(principal: TenantPrincipal, ref: string, audit: ActionAuditor): Promise<UserView> {
      return setBlock(principal, ref, 'ACTIVE', audit, null);
    },

    /** A platform admin suspends a subject on every shop (audited SUBJECT_SUSPEND, field Subject.BLOCKED). */
    suspendSubject: (subjectId: string, reason: string, audit: ActionAuditor) => setSuspension(subjectId, 'BLOCKED', reason, audit),

    /** Lifts a suspension (audited SUBJECT_SUSPEND, field Subject.ACTIVE); tenants' own blocks stay. */
    reinstateSubject: (subjectId: string, reason: string, audit: ActionAuditor) => setSuspension(subjectId, 'ACTIVE', reason, audit),

    /**
     * A platform admin renames a tenant or changes the IdP organization id it answers to; one
     * TENANT_UPDATE event per attribute that changes, recorded before the change.
     */
    async updateTenant(id: string, input: UpdateTenantInput, audit: ActionAuditor): Promise<TenantRow> {
      const name = input.name == null ? undefined : checkText('input.name', input.name, 10_000).trim();
      if (name !== undefined && (name.length < 1 || name.length > 200)) throw badInput('input.name', 'Tenant name must be 1-200 characters');
      const organizationId = input.idpOrganizationId == null ? undefined : input.idpOrganizationId.trim();
      if (organizationId !== undefined && !ORGANIZATION_ID_PATTERN.test(organizationId)) {
        throw badInput('input.idpOrganizationId', 'Organization id must be 1-128 letters, digits or . _ : -');
      }
      if (name === undefined && organizationId === undefined) throw badInput('input', 'Give a new name or idpOrganizationId');
      const [tenant] = isUuid(id) ? await repo.findTenants([id]) : [];
      if (!tenant) throw notFound('Tenant');
      const change = {
        name: name !== undefined && name !== tenant.name ? name : undefined,
        idpOrganizationId: organizationId !== undefined && organizationId !== tenant.idpOrganizationId ? organizationId : undefined,
      };
      const taken = () => badInput('input.idpOrganizationId', 'Another tenant already answers to this organization id');
      if (change.idpOrganizationId !== undefined && (await repo.findTenantIdByOrganization(change.idpOrganizationId))) throw taken();
      if (change.name === undefined && change.idpOrganizationId === undefined) return tenant;
      const update = async () => {
        let result: TenantRow | null;
        try {
          result = await repo.updateTenant(id, change);
        } catch (error) {
          if (error instanceof UniqueViolation) throw taken();
          throw error;
        }
        if (!result) throw notFound('Tenant');
        return result;
      };
      // One event per attribute, each recorded before the change and each followed by FAILED if it does not happen.
      const withOrganization = () =>
        change.idpOrganizationId !== undefined ? auditedEffect(audit, 'TENANT_UPDATE', { tenantId: id, field: 'Tenant.idpOrganizationId' }, update) : update();
      const updated = change.name !== undefined ? await auditedEffect(audit, 'TENANT_UPDATE', { tenantId: id, field: 'Tenant.name' }, withOrganization) : await withOrganization();
      if (change.idpOrganizationId !== undefined) {
        // Tokens of the old organization stop mapping here at once; other services' caches follow within 30 s.
        deps.directoryChanged({ kind: 'organization', organizationId: tenant.idpOrganizationId });
        deps.directoryChanged({ kind: 'organization', organizationId: change.idpOrganizationId });
      }
      return updated;
    },

    /** For the vault's standing check: BLOCKED or ACTIVE per subject connected to the tenant (others absent). */
    async standings(tenantId: string, subjectIds: string[]): Promise<Record<string, Standing>> {
      if (subjectIds.length === 0) return {};
      return Object.fromEntries(await repo.standingsOf(tenantId, subjectIds));
    },
  };
}
