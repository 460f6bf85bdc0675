import { mayReadTenantAudit, type Principal } from '../../../../shared/auth/principal';
import { isUuid } from '../../../../shared/db/data-source';
import type { ExtendedDirectory } from '../../../../shared/directory-client';
import { badInput, forbidden } from '../../../../shared/errors';
import type { AuditRepository } from '../db/repositories/audit-repository';
import type { AuditEventRow } from '../db/entities';
import { memberIdOf, subjectRefs } from './subject-refs';

/**
 * Export of a time range as JSON Lines or CSV, in time order (then sequence), streamed: rows are read
 * in keyset pages of `batchSize` over the (occurred_at, seq) index and written as they come, so memory stays flat however many events the range holds. Subject ids
 * never leave the service: each event carries the pairwise ref its own tenant knows.
 */
export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportRequest {
  format: ExportFormat;
  since: Date;
  until: Date;
  /** A tenant's own events, or (platform admin) one tenant's; null = all. */
  tenantId: string | null;
}

// memberId, then outcome, origin and userAgentClass, last, so readers of the earlier columns by position keep working.
const COLUMNS = ['seq', 'occurredAt', 'actorType', 'tenantId', 'subjectRef', 'action', 'field', 'purpose', 'decision', 'reason', 'consentId', 'requestId', 'memberId', 'outcome', 'origin', 'userAgentClass'] as const;
const MAX_RANGE_DAYS = 3660;

function parseTime(value: unknown, field: string): Date {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw badInput(field, `${field} must be an ISO 8601 date or date-time, e.g. 2026-11-01T00:00:00Z`);
  }
  return new Date(value);
}

/** Validates the query string and scopes it to what the caller may see. */
export function exportRequestFor(principal: Principal, query: Record<string, unknown>): ExportRequest {
  if (principal.kind !== 'tenant' && principal.kind !== 'platform_admin') throw forbidden('Only tenants and platform admins export audit events');
  if (!mayReadTenantAudit(principal)) throw forbidden("A staff member exports the shop's audit log only with the tenant:admin scope");
  const format = query.format ?? 'jsonl';
  if (!EXPORT_FORMATS.includes(format as ExportFormat)) throw badInput('format', 'format must be jsonl or csv');
  const since = parseTime(query.since, 'since');
  const until = parseTime(query.until, 'until');
  if (until <= since) throw badInput('until', 'until must be after since');
  if (until.getTime() - since.getTime() > MAX_RANGE_DAYS * 86_400_000) throw badInput('until', `a range spans at most ${MAX_RANGE_DAYS} days`);
  let tenantId: string | null = null;
  if (principal.kind === 'tenant') {
    if (query.tenantId !== undefined) throw badInput('tenantId', 'Only platform admins choose a tenant');
    tenantId = principal.tenantId;
  } else if (query.tenantId !== undefined) {
    if (!isUuid(query.tenantId)) throw badInput('tenantId', 'tenantId is not a valid id');
    tenantId = query.tenantId;
  }
  return { format: format as ExportFormat, since, until, tenantId };
}

export const csvCell = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** The export's lines, page by page. */
export async function* exportLines(repo: AuditRepository, directory: ExtendedDirectory, request: ExportRequest, batchSize = 2000): AsyncGenerator<string> {
  if (request.format === 'csv') yield `${COLUMNS.join(',')}\r\n`;
  let after: { occurredAt: Date; seq: string } | null = null;
  for (;;) {
    const rows = await repo.scanRange({ after, since: request.since, until: request.until, tenantId: request.tenantId, limit: batchSize });
    if (rows.length === 0) return;
    const refOf = await subjectRefs(directory, rows);
    let chunk = '';
    for (const row of rows) {
      const record = {
        seq: Number(row.seq),
        occurredAt: new Date(row.occurredAt).toISOString(),
        actorType: row.actorType,
        tenantId: row.tenantId,
        subjectRef: refOf(row),
        action: row.action,
        field: row.field,
        purpose: row.purpose,
        decision: row.decision,
        reason: row.reason,
        consentId: row.consentId,
        requestId: row.requestId,
        memberId: memberIdOf(row),
        outcome: row.outcome ?? null,
        origin: row.origin ?? null,
        userAgentClass: row.userAgentClass ?? null,
      };
      chunk += request.format === 'jsonl' ? `${JSON.stringify(record)}\n` : `${COLUMNS.map((c) => csvCell(record[c])).join(',')}\r\n`;
    }
    yield chunk;
    const last = rows.at(-1) as AuditEventRow;
    after = { occurredAt: new Date(last.occurredAt), seq: last.seq };
    if (rows.length < batchSize) return;
  }
}
