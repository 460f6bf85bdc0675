import type { AuditExport, ConsentExport, ExportClients, PiiExport } from '../../../../shared/export-client';
import { notFound } from '../../../../shared/errors';
import type { IdentityRepository } from '../db/repositories/identity-repository';

/** The version of the export document; docs/export.schema.json describes it. */
export const EXPORT_FORMAT = 'privgraph-export/1';

export interface ExportTenantRef {
  tenantId: string;
  tenantName: string | null;
  /** The pairwise pseudonymous ref this tenant knows the subject by. */
  ref: string;
  connectedAt: string;
}

type ExportedConsent = ConsentExport['consents'][number] & { tenantName: string | null };
type DeclaredPolicy = NonNullable<ConsentExport['policies'][number]['policy']>;

export interface ExportRecipient {
  tenantId: string;
  name: string | null;
  ref: string;
  connectedAt: string;
  /** Recipients of GDPR Art. 15(1)(c): each tenant is a controller of what it receives. */
  role: 'CONTROLLER';
  policy: Omit<DeclaredPolicy, 'purposes'> | null;
  /** Purposes, categories, lawful basis and retention as the tenant's policy in force declares them. */
  purposes: DeclaredPolicy['purposes'];
}

/**
 * One subject's data (GDPR Art. 15 and 20) as one JSON document. `personalData` has the shape of
 * `updateMyProfile`'s input, so the document can be imported elsewhere as it is (Art. 20).
 */
export interface ExportDocument {
  format: typeof EXPORT_FORMAT;
  generatedAt: string;
  identity: { createdAt: string; status: string; tenants: ExportTenantRef[] };
  personalData: PiiExport;
  consents: ExportedConsent[];
  accessLog: AuditExport['entries'];
  recipients: ExportRecipient[];
  /** privgraph itself, which stores and processes the data on the tenants' behalf (Art. 28). */
  processor: { name: string; role: 'PROCESSOR' };
}

export type ExportSystemName = 'identity' | 'pii' | 'consent' | 'audit';

export type ExportService = ReturnType<typeof createExportService>;

/**
 * Assembles the export: identity's own part from its tables, the rest from each owning service's
 * internal export route (no service reads another's tables).
 */
export function createExportService(deps: {
  repo: IdentityRepository;
  clients: ExportClients;
  now: () => Date;
  /** Signs the grant the vault asks for before it decrypts a subject's whole record (shared/dsr-grant.ts). */
  grant: (subjectId: string, requestId: string) => Promise<string>;
}) {
  // Not destructured as `exports`: that would shadow CommonJS `exports` (and EXPORT_FORMAT) once compiled.
  const { repo, clients, now } = deps;

  async function identityPart(subjectId: string) {
    const [subject] = await repo.findSubjectsByIds([subjectId]);
    if (!subject) throw notFound('Subject');
    const links = await repo.findLinksOfSubject(subjectId);
    const tenants = new Map((await repo.findTenantsByIds(links.map((l) => l.tenantId))).map((t) => [t.id, t]));
    return { subject, links, tenants };
  }

  return {
    async buildExport(subjectId: string, options: { requestId?: string } = {}): Promise<ExportDocument> {
      const { subject, links, tenants } = await identityPart(subjectId);
      const tenantIds = links.map((l) => l.tenantId);
      const request = { subjectId, requestId: options.requestId };
      if (!options.requestId) throw notFound('Data subject request');
      const [personalData, consent, audit] = await Promise.all([
        clients.pii({ ...request, grant: await deps.grant(subjectId, options.requestId) }),
        clients.consent({ ...request, tenantIds }),
        clients.audit(request),
      ]);
      const consentTenants = consent.consents.map((c) => c.tenantId).filter((id) => !tenants.has(id));
      if (consentTenants.length > 0) for (const t of await repo.findTenantsByIds([...new Set(consentTenants)])) tenants.set(t.id, t);
      const nameOf = (tenantId: string) => tenants.get(tenantId)?.name ?? null;
      const policyOf = new Map(consent.policies.map((p) => [p.tenantId, p.policy]));
      const refs: ExportTenantRef[] = links.map((l) => ({
        tenantId: l.tenantId,
        tenantName: nameOf(l.tenantId),
        ref: l.ref,
        connectedAt: l.createdAt.toISOString(),
      }));
      return {
        format: EXPORT_FORMAT,
        generatedAt: now().toISOString(),
        identity: { createdAt: subject.createdAt.toISOString(), status: subject.status, tenants: refs },
        personalData,
        consents: consent.consents.map((c) => ({ ...c, tenantName: nameOf(c.tenantId) })),
        accessLog: audit.entries,
        recipients: refs.map((r) => {
          const policy = policyOf.get(r.tenantId) ?? null;
          const { purposes, ...version } = policy ?? { purposes: [] };
          return {
            tenantId: r.tenantId,
            name: r.tenantName,
            ref: r.ref,
            connectedAt: r.connectedAt,
            role: 'CONTROLLER' as const,
            policy: policy ? (version as Omit<DeclaredPolicy, 'purposes'>) : null,
            purposes,
          };
        }),
        processor: { name: 'privgraph', role: 'PROCESSOR' },
      };
    },

    /**
     * How many items one system holds for the subject, without decrypting or fetching any value, so
     * the export job can record each system's step before the subject downloads the document.
     */
    async countItems(subjectId: string, system: ExportSystemName): Promise<number> {
      if (system === 'identity') return 1 + (await identityPart(subjectId)).links.length;
      return (await clients.summary(system, { subjectId })).items;
    },
  };
}
