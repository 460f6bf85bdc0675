import { randomUUID } from 'node:crypto';
import { auditedEffect, type ActionAuditor } from '../../../../shared/audit/actions';
import type { Principal } from '../../../../shared/auth/principal';
import type { DirectoryChange, ExtendedDirectory, ObservableDirectory } from '../../../../shared/directory-client';
import { isUuid } from '../../../../shared/db/data-source';
import { checkText, isLookupKey } from '../../../../shared/validation';
import { UniqueViolation } from '../../../../shared/db/errors';
import { badInput, forbidden, notFound } from '../../../../shared/errors';
import type { IdentityRepository } from '../db/repositories/identity-repository';
import type { SubjectRow, TenantLinkRow, TenantLinkStatus, TenantRow } from '../db/entities';
import { pairwiseRef } from './pairwise-ref';

/** A user as one caller may see them: refs and dates are per tenant so tenants cannot correlate. */
export interface UserView {
  id: string;
  ref: string | null;
  status: SubjectRow['status'];
  createdAt: Date;
}

export interface Page<T> {
  edges: { node: T; cursor: string }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export const ORGANIZATION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_PAGE = 100;

/** What a tenant sees: BLOCKED when it blocked the user or the platform suspended the subject. */
export function statusForTenant(subjectStatus: SubjectRow['status'], linkStatus: TenantLinkStatus): SubjectRow['status'] {
  return subjectStatus === 'ACTIVE' && linkStatus === 'BLOCKED' ? 'BLOCKED' : subjectStatus;
}

export type IdentityService = ReturnType<typeof createIdentityService>;

export function createIdentityService(deps: {
  repo: IdentityRepository;
  refSecret: string;
  now: () => Date;
  /** With an external IdP a tenant must name its organization: a default id matches no real token. */
  requireOrganizationId?: boolean;
}) {
  const { repo, refSecret, now } = deps;
  const changeListeners: ((change: DirectoryChange) => void)[] = [];

  const directory: ExtendedDirectory & ObservableDirectory = {
    onChange(listener) {
      changeListeners.push(listener);
    },
    async resolveSubject(issuer, sub) {
      const subject = await repo.upsertSubject(issuer, sub);
      return { subjectId: subject.id, status: subject.status };
    },
    async resolveTenant(organizationId) {
      const tenant = await repo.findTenantByOrganization(organizationId);
      return tenant ? { tenantId: tenant.id } : null;
    },
    async tenantNames(tenantIds) {
      const valid = tenantIds.filter(isUuid);
      if (valid.length === 0) return new Map();
      return new Map((await repo.findTenantsByIds(valid)).map((t) => [t.id, t.name]));
    },
    async refsForSubjects(tenantId, subjectIds) {
      const valid = subjectIds.filter(isUuid);
      if (!isUuid(tenantId) || valid.length === 0) return new Map();
      return new Map((await repo.findLinksBySubjects(tenantId, valid)).map((l) => [l.subjectId, l.ref]));
    },
    async subjectForRef(tenantId, ref) {
      if (!isUuid(tenantId)) return null;
      return (await repo.findLinkByRef(tenantId, ref))?.subjectId ?? null;
    },
    async existingSubjects(subjectIds) {
      const valid = subjectIds.filter(isUuid);
      if (valid.length === 0) return new Set();
      return new Set((await repo.findSubjectsByIds(valid)).map((s) => s.id));
    },
  };

  return {
    directory,

    /** Tells this process's directory caches that an entry changed (a suspension, an organization id). */
    directoryChanged(change: DirectoryChange) {
      for (const listener of changeListeners) listener(change);
    },

    /** Validates, audits (TENANT_CREATE), then registers the tenant. */
    async createTenant(input: { name: string; idpOrganizationId?: string | null }, audit: ActionAuditor): Promise<TenantRow> {
      const name = checkText('input.name', input.name, 10_000).trim();
      if (name.length < 1 || name.length > 200) throw badInput('input.name', 'Tenant name must be 1-200 characters');
      const id = randomUUID();
      if (deps.requireOrganizationId && !input.idpOrganizationId?.trim()) {
        throw badInput('input.idpOrganizationId', 'An external identity provider is configured: give the organization id this tenant answers to');
      }
      const idpOrganizationId = input.idpOrganizationId?.trim() || id;
      if (!ORGANIZATION_ID_PATTERN.test(idpOrganizationId)) {
        throw badInput('input.idpOrganizationId', 'Organization id must be 1-128 letters, digits or . _ : -');
      }
      const tenant: TenantRow = { id, name, idpOrganizationId, createdAt: now() };
      const taken = () => badInput('input.idpOrganizationId', 'Another tenant already answers to this organization id');
      // Refused before anything is recorded, so no TENANT_CREATE names a tenant that could not be made;
      // a concurrent create of the same organization id still loses at the insert, recorded as FAILED.
      if (await repo.findTenantByOrganization(idpOrganizationId)) throw taken();
      return auditedEffect(audit, 'TENANT_CREATE', { tenantId: id }, async () => {
        try {
          await repo.insertTenant(tenant);
        } catch (error) {
          if (error instanceof UniqueViolation) throw taken();
          throw error;
        }
        return tenant;
      });
    },

    listTenants: () => repo.listTenants(),

    listTenantsByIds: (ids: readonly string[]) => repo.findTenantsByIds(ids.filter(isUuid)),

    /** Links the subject to a tenant (idempotent), audited (TENANT_CONNECT) first. */
    async connectTenant(subjectId: string, tenantId: string, audit: ActionAuditor): Promise<TenantLinkRow> {
      if (!isUuid(tenantId)) throw badInput('tenantId', 'tenantId is not a valid id');
      const [[tenant], [subject]] = await Promise.all([repo.findTenantsByIds([tenantId]), repo.findSubjectsByIds([subjectId])]);
      if (!tenant) throw notFound('Tenant');
      // A token still cached for an erased subject must not link the tombstone to a tenant again.
      if (subject?.status !== 'ACTIVE') throw forbidden('This account cannot connect to a tenant');
      // Once an erasure is asked for, no new shop receives the person's ref.
      const refused = () => forbidden('An erasure of this account is in progress; it cannot connect to a tenant');
      if (await repo.hasOpenErasure(subjectId)) throw refused();
      return auditedEffect(audit, 'TENANT_CONNECT', { subjectId, tenantId }, async () => {
        const link = await repo.insertLinkIfAbsent({ tenantId, subjectId, ref: pairwiseRef(refSecret, tenantId, subjectId), status: 'ACTIVE', createdAt: now() });
        if (!link) throw refused();
        return link;
      });
    },

    linksOfSubject: (subjectId: string) => repo.findLinksOfSubject(subjectId),

    async userByRef(tenantId: string, ref: string): Promise<UserView | null> {
      const link = isLookupKey(ref) ? await repo.findLinkedSubjectByRef(tenantId, ref) : null;
      return link ? { id: link.subjectId, ref: link.ref, status: statusForTenant(link.status, link.linkStatus), createdAt: link.createdAt } : null;
    },

    async pageUsers(tenantId: string, first: number | null | undefined, after: string | null | undefined): Promise<Page<UserView>> {
      const limit = first ?? 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badInput('first', `first must be 1-${MAX_PAGE}`);
      const afterRef = after ? decodeCursor(after) : null;
      const links = await repo.pageLinks(tenantId, afterRef, limit + 1);
      const pageLinks = links.slice(0, limit);
      const subjects = new Map((await repo.findSubjectsByIds(pageLinks.map((l) => l.subjectId))).map((s) => [s.id, s]));
      const edges = pageLinks.flatMap((link) => {
        const subject = subjects.get(link.subjectId);
        return subject
          ? [{ node: { id: subject.id, ref: link.ref, status: statusForTenant(subject.status, link.status), createdAt: link.createdAt }, cursor: encodeCursor(link.ref) }]
          : [];
      });
      return { edges, pageInfo: { hasNextPage: links.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
    },

    /** Batch view for entity resolution: each id as this principal may see it, or null. */
    async userViews(principal: Principal, ids: readonly string[]): Promise<(UserView | null)[]> {
      const valid = ids.filter(isUuid);
      if (valid.length === 0) return ids.map(() => null);
      if (principal.kind === 'subject') {
        const [self] = valid.includes(principal.subjectId) ? await repo.findSubjectsByIds([principal.subjectId]) : [];
        return ids.map((id) => (self && id === self.id ? { id, ref: null, status: self.status, createdAt: self.createdAt } : null));
      }
      if (principal.kind === 'tenant') {
        const links = new Map((await repo.findLinksBySubjects(principal.tenantId, valid)).map((l) => [l.subjectId, l]));
        const subjects = new Map((await repo.findSubjectsByIds([...links.keys()])).map((s) => [s.id, s]));
        return ids.map((id) => {
          const link = links.get(id);
          const subject = subjects.get(id);
          return link && subject ? { id, ref: link.ref, status: statusForTenant(subject.status, link.status), createdAt: link.createdAt } : null;
        });
      }
      if (principal.kind === 'platform_admin') {
        // Account state, not personal data: a platform admin (who suspends accounts) sees status and when the
        // account was provisioned of a User the graph hands them (breakGlassUser); no tenant's ref.
        const subjects = new Map((await repo.findSubjectsByIds(valid)).map((s) => [s.id, s]));
        return ids.map((id) => {
          const subject = subjects.get(id);
          return subject ? { id, ref: null, status: subject.status, createdAt: subject.createdAt } : null;
        });
      }
      return ids.map(() => null);
    },
  };
}

function encodeCursor(ref: string): string {
  return Buffer.from(`ref:${ref}`).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!decoded.startsWith('ref:') || decoded.length > 200) throw badInput('after', 'after is not a cursor from this connection');
  return decoded.slice(4);
}
