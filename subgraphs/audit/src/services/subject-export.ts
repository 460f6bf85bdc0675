import type { AuditExport, ExportRequest, ExportSummary } from '../../../../shared/export-client';
import type { AuditService } from './audit-service';

const PAGE = 500;

export type AuditSubjectExport = ReturnType<typeof createAuditSubjectExport>;

/**
 * The audit log's part of a data export (GDPR Art. 15(1)(c)): the subject's access log, exactly as
 * `myAccessLog` shows it (reads and operations by tenants and platform admins), every page, newest first.
 */
export function createAuditSubjectExport(deps: { audit: AuditService }) {
  async function entries(subjectId: string): Promise<AuditExport['entries']> {
    const out: AuditExport['entries'] = [];
    let after: string | null = null;
    for (;;) {
      const page = await deps.audit.accessLog(subjectId, { first: PAGE, after });
      for (const { node } of page.edges) {
        out.push({
          occurredAt: node.occurredAt.toISOString(),
          accessorType: node.accessorType,
          tenantId: node.tenantId,
          tenantName: node.tenantName,
          action: node.action,
          field: node.field,
          purpose: node.purpose,
          decision: node.decision,
          reason: node.reason,
          consentId: node.consentId,
          ...(node.outcome ? { outcome: node.outcome } : {}),
          origin: node.origin,
          userAgentClass: node.userAgentClass,
        });
      }
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return out;
      after = page.pageInfo.endCursor;
    }
  }

  return {
    exportSubject: async (request: ExportRequest): Promise<AuditExport> => ({ entries: await entries(request.subjectId) }),
    summary: async (request: ExportRequest): Promise<ExportSummary> => ({ items: (await entries(request.subjectId)).length }),
  };
}
