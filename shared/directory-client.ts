import { LRUCache } from 'lru-cache';
import type { Directory, DirectoryCall, SubjectStatus } from './auth/principal';
import { internalClientFor } from './internal-api';
import type { InternalApiConfig } from './config';

/** Paths of the identity service's internal directory API. */
export const DIRECTORY_PATHS = {
  resolveSubject: '/internal/v1/directory/subjects/resolve',
  resolveTenant: '/internal/v1/directory/tenants/resolve',
  tenantNames: '/internal/v1/directory/tenants/names',
  refsForSubjects: '/internal/v1/directory/refs/for-subjects',
  subjectForRef: '/internal/v1/directory/refs/subject',
  existingSubjects: '/internal/v1/directory/subjects/existing',
} as const;

/** An entry of the directory that changed (a subject suspended, a tenant's organization id changed). */
export type DirectoryChange = { kind: 'subject'; issuer: string; sub: string } | { kind: 'organization'; organizationId: string };

/** A directory that tells caches in front of it, in the same process, which entries changed. */
export interface ObservableDirectory {
  onChange(listener: (change: DirectoryChange) => void): void;
}

export interface ExtendedDirectory extends Directory {
  /** Display names of the tenants that exist (absent: no such tenant). */
  tenantNames(tenantIds: string[]): Promise<Map<string, string>>;
  /** The tenant's pairwise refs for subjects linked to it (others are absent). */
  refsForSubjects(tenantId: string, subjectIds: string[]): Promise<Map<string, string>>;
  subjectForRef(tenantId: string, ref: string): Promise<string | null>;
  /** Which of these subject ids name a subject (of any status, erased ones included: their tombstone stays). */
  existingSubjects(subjectIds: string[]): Promise<Set<string>>;
}

/**
 * Short-lived caches in front of a directory, so resolving the caller costs nothing on the hot path.
 * Blocking a subject takes effect within 30 s; a tenant created a moment ago is found within 1 s.
 * A directory that reports its changes (identity's own) has the changed entries dropped at once.
 */
export function withDirectoryCache<D extends Directory>(directory: D): D {
  const subjects = new LRUCache<string, { subjectId: string; status: SubjectStatus }>({ max: 50_000, ttl: 30_000 });
  const tenants = new LRUCache<string, { tenantId: string | null }>({ max: 10_000, ttl: 30_000 });
  const observable = (directory as Partial<ObservableDirectory>).onChange;
  if (typeof observable === 'function') {
    observable.call(directory, (change) => {
      if (change.kind === 'subject') subjects.delete(`${change.issuer}\u0000${change.sub}`);
      else tenants.delete(change.organizationId);
    });
  }
  return {
    ...directory,
    async resolveSubject(issuer: string, sub: string, call?: DirectoryCall) {
      const key = `${issuer}\u0000${sub}`;
      const cached = subjects.get(key);
      if (cached) return cached;
      const resolved = await directory.resolveSubject(issuer, sub, call);
      subjects.set(key, resolved);
      return resolved;
    },
    async resolveTenant(organizationId: string, call?: DirectoryCall) {
      const cached = tenants.get(organizationId);
      if (cached) return cached.tenantId ? { tenantId: cached.tenantId } : null;
      const tenant = await directory.resolveTenant(organizationId, call);
      tenants.set(organizationId, { tenantId: tenant?.tenantId ?? null }, tenant ? undefined : { ttl: 1_000 });
      return tenant;
    },
  };
}

/** The directory as seen from pii, consent and audit: HTTP calls to identity, cached. */
export function createRemoteDirectory(config: InternalApiConfig): ExtendedDirectory {
  const client = internalClientFor(config, 'identity');
  return withDirectoryCache<ExtendedDirectory>({
    resolveSubject: (issuer, sub, call) => client.post<{ subjectId: string; status: SubjectStatus }>(DIRECTORY_PATHS.resolveSubject, { issuer, sub }, call),
    async resolveTenant(organizationId, call) {
      const { tenantId } = await client.post<{ tenantId: string | null }>(DIRECTORY_PATHS.resolveTenant, { organizationId }, call);
      return tenantId ? { tenantId } : null;
    },
    async tenantNames(tenantIds) {
      if (tenantIds.length === 0) return new Map();
      const { names } = await client.post<{ names: Record<string, string> }>(DIRECTORY_PATHS.tenantNames, { tenantIds });
      return new Map(Object.entries(names));
    },
    async refsForSubjects(tenantId, subjectIds) {
      if (subjectIds.length === 0) return new Map();
      const { refs } = await client.post<{ refs: Record<string, string> }>(DIRECTORY_PATHS.refsForSubjects, { tenantId, subjectIds });
      return new Map(Object.entries(refs));
    },
    async subjectForRef(tenantId, ref) {
      const { subjectId } = await client.post<{ subjectId: string | null }>(DIRECTORY_PATHS.subjectForRef, { tenantId, ref });
      return subjectId;
    },
    async existingSubjects(subjectIds) {
      if (subjectIds.length === 0) return new Set();
      const { subjectIds: found } = await client.post<{ subjectIds: string[] }>(DIRECTORY_PATHS.existingSubjects, { subjectIds });
      return new Set(found);
    },
  });
}
