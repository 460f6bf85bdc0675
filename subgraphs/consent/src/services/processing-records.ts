import type { Principal } from '../../../../shared/auth/principal';
import { isUuid } from '../../../../shared/db/data-source';
import type { ExtendedDirectory } from '../../../../shared/directory-client';
import { badInput, notFound } from '../../../../shared/errors';
import type { PiiCategory } from '../../../../shared/pii';
import type { LawfulBasis, PolicyVersionRow } from '../db/entities';

/** The processor named in every record: privgraph stores and releases the data for the tenant (Art. 28). */
export const PROCESSOR_NAME = 'privgraph';

export type PolicyVersionState = 'IN_FORCE' | 'SUPERSEDED' | 'SCHEDULED';

export interface ProcessingRecipient {
  name: string;
  role: 'CONTROLLER' | 'PROCESSOR';
  description: string;
}

/** One purpose of one policy version: a line of the record of processing activities. */
export interface ProcessingActivity {
  purpose: string;
  description: string;
  categories: PiiCategory[];
  lawfulBasis: LawfulBasis;
  retentionDays: number;
  recipients: ProcessingRecipient[];
  policyVersion: string;
  policyUrl: string;
  policyTextHash: string;
  state: PolicyVersionState;
  effectiveFrom: Date;
  /** When the next version took (or takes) over; null for the last one. */
  effectiveUntil: Date | null;
  publishedAt: Date;
}

export interface ProcessingRecords {
  tenantId: string;
  controller: string;
  processor: string;
  dataSubjects: string;
  securityMeasures: string[];
  generatedAt: Date;
  activities: ProcessingActivity[];
  markdown: string;
}

/** What privgraph does for every tenant's data (Art. 30(1)(g) with Art. 32): facts of the platform, not claims of the tenant. */
export const SECURITY_MEASURES = [
  'Personal data encrypted at rest with AES-256-GCM under a per-person data key, wrapped by a per-region key-encryption key',
  "Each person's data kept only in the store of their region; never copied to another region",
  'A field is released to the shop only with the matching scope, a declared purpose and an active consent for it',
  'Every release or refusal of a field recorded in a hash-chained, signed, append-only audit log before the value leaves',
  'Shops see people only under pairwise pseudonymous refs that cannot be linked across shops',
  'Erasure by crypto-shredding of the data keys, recorded in a ledger kept outside the databases',
];

const CATEGORY_NAMES: Record<PiiCategory, string> = {
  CONTACT: 'contact data (email, phone)',
  IDENTITY: 'identity data (given name, family name, birth date)',
  ADDRESS: 'postal address',
  GOVERNMENT_ID: 'government identifier (national id / passport number)',
};

const BASIS_NAMES: Record<LawfulBasis, string> = {
  CONSENT: 'Consent, Art. 6(1)(a)',
  CONTRACT: 'Contract, Art. 6(1)(b)',
  LEGAL_OBLIGATION: 'Legal obligation, Art. 6(1)(c)',
  VITAL_INTERESTS: 'Vital interests, Art. 6(1)(d)',
  PUBLIC_TASK: 'Public task, Art. 6(1)(e)',
  LEGITIMATE_INTERESTS: 'Legitimate interests, Art. 6(1)(f)',
};

/** A table cell: pipes and line breaks would break the Markdown table. */
const cell = (text: string) => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const day = (date: Date) => date.toISOString().slice(0, 10);

/**
 * The tenant's record of processing activities (GDPR Art. 30(1)), derived from its published policy
 * versions: one activity per purpose per version, in force first, then scheduled, then superseded.
 * Pure: the same versions and clock give the same record.
 */
export function processingRecordsOf(input: { tenantId: string; tenantName: string; versions: PolicyVersionRow[]; now: Date }): ProcessingRecords {
  const { tenantId, tenantName, now } = input;
  const ordered = [...input.versions].sort((a, b) => a.effectiveAt.getTime() - b.effectiveAt.getTime() || a.publishedAt.getTime() - b.publishedAt.getTime());
  const inForce = ordered.filter((v) => v.effectiveAt.getTime() <= now.getTime()).at(-1);
  const stateOf = (v: PolicyVersionRow): PolicyVersionState =>
    v === inForce ? 'IN_FORCE' : v.effectiveAt.getTime() > now.getTime() ? 'SCHEDULED' : 'SUPERSEDED';
  const recipients: ProcessingRecipient[] = [
    { name: tenantName, role: 'CONTROLLER', description: 'Receives the data for the purpose, under the consent and scope rules' },
    { name: PROCESSOR_NAME, role: 'PROCESSOR', description: 'Stores the data encrypted and releases it to the controller on its requests (Art. 28)' },
  ];
  const rank: Record<PolicyVersionState, number> = { IN_FORCE: 0, SCHEDULED: 1, SUPERSEDED: 2 };
  const activities = ordered
    .flatMap((version, i) =>
      version.purposes.map((purpose) => ({
        purpose: purpose.key,
        description: purpose.description,
        categories: [...purpose.categories],
        lawfulBasis: purpose.lawfulBasis,
        retentionDays: purpose.retentionDays,
        recipients: recipients.map((r) => ({ ...r })),
        policyVersion: version.version,
        policyUrl: version.url,
        policyTextHash: version.textHash,
        state: stateOf(version),
        effectiveFrom: version.effectiveAt,
        effectiveUntil: ordered[i + 1]?.effectiveAt ?? null,
        publishedAt: version.publishedAt,
      })),
    )
    // In force first, then scheduled, then superseded (newest first); purposes in declaration order.
    .map((activity, index) => ({ activity, index }))
    .sort((a, b) => rank[a.activity.state] - rank[b.activity.state] || (a.activity.state === 'SUPERSEDED' ? b.activity.effectiveFrom.getTime() - a.activity.effectiveFrom.getTime() : 0) || a.index - b.index)
    .map(({ activity }) => activity);
  const dataSubjects = `Customers of ${tenantName} who connected their privgraph account to it`;
  const records = { tenantId, controller: tenantName, processor: PROCESSOR_NAME, dataSubjects, securityMeasures: [...SECURITY_MEASURES], generatedAt: now, activities };
  return { ...records, markdown: markdownOf(records) };
}

function markdownOf(records: Omit<ProcessingRecords, 'markdown'>): string {
  const lines = [
    `# Record of processing activities — ${cell(records.controller)}`,
    '',
    `GDPR Art. 30(1). Generated by ${records.processor} on ${records.generatedAt.toISOString()} from the published policy versions.`,
    '',
    `- **Controller:** ${cell(records.controller)} (tenant ${records.tenantId})`,
    `- **Processor:** ${records.processor}`,
    `- **Categories of data subjects:** ${cell(records.dataSubjects)}`,
    '',
    '| Purpose | Description | Categories of personal data | Lawful basis | Retention | Recipients | Policy version | Effective | Status |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const a of records.activities) {
    const effective = `${day(a.effectiveFrom)} – ${a.effectiveUntil ? day(a.effectiveUntil) : 'open'}`;
    lines.push(
      `| \`${a.purpose}\` | ${cell(a.description)} | ${a.categories.map((c) => CATEGORY_NAMES[c]).join('; ')} | ${BASIS_NAMES[a.lawfulBasis]} | ${a.retentionDays} days | ${a.recipients
        .map((r) => `${cell(r.name)} (${r.role.toLowerCase()})`)
        .join('; ')} | [${cell(a.policyVersion)}](${a.policyUrl}) | ${effective} | ${a.state.replace('_', ' ').toLowerCase()} |`,
    );
  }
  if (records.activities.length === 0) lines.push('| — | No policy version is published yet | | | | | | | |');
  lines.push('', '## Technical and organisational security measures (Art. 32)', '', ...records.securityMeasures.map((m) => `- ${m}`), '');
  return lines.join('\n');
}

export type ProcessingRecordsService = ReturnType<typeof createProcessingRecordsService>;

/** Who may read a tenant's records: its own tenant admins and platform admins; others see NOT_FOUND. */
export function createProcessingRecordsService(deps: { listVersions: (tenantId: string) => Promise<PolicyVersionRow[]>; directory: ExtendedDirectory; now: () => Date }) {
  return {
    async recordsFor(principal: Principal, tenantId: string): Promise<ProcessingRecords> {
      if (!isUuid(tenantId)) throw badInput('tenantId', 'tenantId is not a valid id');
      // The rule admits tenant admins and platform admins; a tenant learns nothing about another one.
      if (principal.kind === 'tenant' && principal.tenantId !== tenantId) throw notFound('Tenant');
      const tenantName = (await deps.directory.tenantNames([tenantId])).get(tenantId);
      if (!tenantName) throw notFound('Tenant');
      return processingRecordsOf({ tenantId, tenantName, versions: await deps.listVersions(tenantId), now: deps.now() });
    },
  };
}
