import type { ExtendedDirectory } from '../../../../shared/directory-client';
import type { Principal } from '../../../../shared/auth/principal';
import { isUuid } from '../../../../shared/db/data-source';
import { badInput } from '../../../../shared/errors';
import { checkText, MAX_BIGINT } from '../../../../shared/validation';
import type { AuditEventRow } from '../db/entities';
import type { AuditQuery, AuditRepository } from '../db/repositories/audit-repository';
import type { JWK } from 'jose';
import type { CheckpointSink } from './checkpoints';
import { memberIdOf, subjectRefs } from './subject-refs';
import { verifyAuditLog, type Verification } from './verification';

export interface AuditFilterInput {
  actorType?: string | null;
  memberId?: string | null;
  action?: string | null;
  decision?: string | null;
  field?: string | null;
  purpose?: string | null;
  subjectRef?: string | null;
  requestId?: string | null;
  outcome?: string | null;
  origin?: string | null;
  tenantId?: string | null;
  since?: Date | null;
  until?: Date | null;
}

export interface AuditEventView extends Omit<AuditEventRow, 'prevHash' | 'hash' | 'subjectId' | 'actorId'> {
  subjectRef: string | null;
  memberId: string | null;
}

const MAX_PAGE = 500;

export type AuditService = ReturnType<typeof createAuditService>;

export function createAuditService(deps: {
  repo: AuditRepository;
  directory: ExtendedDirectory;
  checkpoints: CheckpointSink;
  /** The signed records of partitions removed by retention (verification bridges them). */
  purgeRecords: () => Promise<string[]>;
  publicJwk: JWK;
}) {
  const { repo, directory } = deps;

  /** Subject ids never leave the service: each event shows the pairwise ref of its own tenant. */
  async function toViews(rows: AuditEventRow[]): Promise<AuditEventView[]> {
    const refOf = await subjectRefs(directory, rows);
    return rows.map(({ prevHash: _p, hash: _h, subjectId, actorId, ...rest }) => ({
      ...rest,
      subjectRef: refOf({ tenantId: rest.tenantId, subjectId }),
      memberId: memberIdOf({ actorType: rest.actorType, actorId }),
    }));
  }

  return {
    async listEvents(principal: Principal, first: number | null | undefined, after: string | null | undefined, filter: AuditFilterInput | null | undefined) {
      const limit = first ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badInput('first', `first must be 1-${MAX_PAGE}`);
      const query: AuditQuery = { limit: limit + 1 };
      if (after) query.beforeSeq = decodeCursor(after);
      if (principal.kind === 'tenant') {
        if (filter?.tenantId) throw badInput('filter.tenantId', 'Only platform admins filter by tenant');
        query.tenantId = principal.tenantId;
      } else if (filter?.tenantId) {
        if (!isUuid(filter.tenantId)) throw badInput('filter.tenantId', 'filter.tenantId is not a valid id');
        query.tenantId = filter.tenantId;
      }
      for (const key of ['subjectRef', 'field', 'purpose', 'requestId', 'memberId', 'origin'] as const) {
        const value = filter?.[key];
        if (value) checkText(`filter.${key}`, value, 200);
      }
      if (filter?.subjectRef) {
        if (!query.tenantId) throw badInput('filter.subjectRef', 'A subject ref is only meaningful with a tenant');
        const subjectId = await directory.subjectForRef(query.tenantId, filter.subjectRef);
        if (!subjectId) return { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };
        query.subjectId = subjectId;
      }
      if (filter?.since && filter?.until && filter.since >= filter.until) throw badInput('filter.until', 'until must be after since');
      for (const key of ['action', 'decision', 'field', 'purpose', 'requestId', 'outcome', 'origin'] as const) {
        const value = filter?.[key];
        if (value) query[key] = value;
      }
      if (filter?.actorType) query.actorTypes = [filter.actorType];
      if (filter?.memberId) {
        if (filter.actorType && filter.actorType !== 'TENANT_MEMBER') throw badInput('filter.memberId', 'memberId names a TENANT_MEMBER');
        if (filter.memberId.length > 200) throw badInput('filter.memberId', 'memberId is at most 200 characters');
        query.actorTypes = ['TENANT_MEMBER'];
        query.actorId = filter.memberId;
      }
      if (filter?.since) query.since = filter.since;
      if (filter?.until) query.until = filter.until;
      const rows = await repo.findEvents(query);
      const views = await toViews(rows.slice(0, limit));
      const edges = views.map((node) => ({ node, cursor: encodeCursor(node.seq) }));
      return { edges, pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
    },

    /**
     * The subject's own access log: requests by tenants (their backends and their staff) and admins
     * about them, with tenant names. A staff member's id is not shown: the shop is the one accountable
     * to the subject and knows which of its staff it was; the subject sees that a person read it.
     */
    async accessLog(subjectId: string, page: { first?: number | null; after?: string | null; since?: Date | null; until?: Date | null }) {
      const limit = page.first ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badInput('first', `first must be 1-${MAX_PAGE}`);
      if (page.since && page.until && page.since >= page.until) throw badInput('until', 'until must be after since');
      const query: AuditQuery = { subjectId, actorTypes: ['TENANT', 'TENANT_MEMBER', 'PLATFORM_ADMIN'], limit: limit + 1 };
      if (page.after) query.beforeSeq = decodeCursor(page.after);
      if (page.since) query.since = page.since;
      if (page.until) query.until = page.until;
      const rows = await repo.findEvents(query);
      const shown = rows.slice(0, limit);
      const names = await directory.tenantNames([...new Set(shown.flatMap((r) => (r.tenantId ? [r.tenantId] : [])))]);
      const edges = shown.map((row) => ({
        node: {
          occurredAt: row.occurredAt,
          accessorType: row.actorType,
          tenantId: row.tenantId,
          tenantName: row.tenantId ? (names.get(row.tenantId) ?? null) : null,
          action: row.action,
          field: row.field,
          purpose: row.purpose,
          decision: row.decision,
          reason: row.reason,
          consentId: row.consentId,
          outcome: row.outcome,
          origin: row.origin ?? null,
          userAgentClass: row.userAgentClass ?? null,
        },
        cursor: encodeCursor(row.seq),
      }));
      return { edges, pageInfo: { hasNextPage: rows.length > limit, endCursor: edges.at(-1)?.cursor ?? null } };
    },

    /** Recomputes the chain and holds it against the signed checkpoints (verification.ts). */
    async verify(): Promise<Verification> {
      return verifyAuditLog(repo, await deps.checkpoints.readAll(), deps.publicJwk, await deps.purgeRecords());
    },
  };
}

function encodeCursor(seq: string): string {
  return Buffer.from(`seq:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^seq:\d{1,19}$/.test(decoded) || BigInt(decoded.slice(4)) > MAX_BIGINT) throw badInput('after', 'after is not a cursor from this connection');
  return decoded.slice(4);
}
