import { createHash } from 'node:crypto';
import type { TestStack } from './stack';

/** The shared language of the end-to-end suites: tenants, subjects and their consents, made through the API. */

export function codes(response: { errors?: { extensions?: Record<string, unknown> }[] }): string[] {
  return (response.errors ?? []).map((e) => String(e.extensions?.code));
}

export function expectNoErrors(response: { errors?: unknown[] }) {
  if (response.errors && response.errors.length > 0) {
    throw new Error(`unexpected errors: ${JSON.stringify(response.errors)}`);
  }
}

export async function createTenant(stack: TestStack, name: string): Promise<string> {
  const response = await stack.gql<{ createTenant: { id: string } }>(
    'mutation($name: String!) { createTenant(input: { name: $name }) { id } }',
    { name },
    { token: await stack.tokens.admin() },
  );
  expectNoErrors(response);
  return response.data!.createTenant.id;
}

/**
 * A tenant admin registers the client ids of the shop's storefront apps, the only apps a passport for the
 * shop is issued to (the dev issuer's subject tokens carry DEV_APP_CLIENT_ID unless told otherwise).
 */
export async function setStorefrontClients(stack: TestStack, tenantId: string, clientIds: string[]): Promise<string[]> {
  const response = await stack.gql<{ setStorefrontClients: { storefrontClients: string[] } }>(
    'mutation($c: [String!]!) { setStorefrontClients(clientIds: $c) { storefrontClients } }',
    { c: clientIds },
    { token: await stack.tokens.tenant(tenantId, ['tenant:admin']) },
  );
  expectNoErrors(response);
  return response.data!.setStorefrontClients.storefrontClients;
}

export interface Subject {
  name: string;
  token: string;
  refs: Record<string, string>;
}

export async function createSubject(stack: TestStack, name: string, profile: Record<string, unknown>, tenantIds: string[]): Promise<Subject> {
  const token = await stack.tokens.subject(name);
  const stored = await stack.gql('mutation($input: ProfileInput!) { updateMyProfile(input: $input) { email } }', { input: profile }, { token });
  expectNoErrors(stored);
  const refs: Record<string, string> = {};
  for (const tenantId of tenantIds) {
    const linked = await stack.gql<{ connectTenant: { ref: string } }>(
      'mutation($t: ID!) { connectTenant(tenantId: $t) { ref } }',
      { t: tenantId },
      { token },
    );
    expectNoErrors(linked);
    refs[tenantId] = linked.data!.connectTenant.ref;
  }
  return { name, token, refs };
}

export interface PurposeDeclaration {
  key: string;
  description: string;
  categories: string[];
  lawfulBasis: string;
  retentionDays: number;
}

export interface PolicyVersion {
  version: string;
  url: string;
  textHash: string;
  purposes: PurposeDeclaration[];
}

const POLICY_FIELDS = 'version url textHash effectiveAt purposes { key description categories lawfulBasis retentionDays }';

export const purposeOf = (key: string, categories: string[]): PurposeDeclaration => ({
  key,
  description: `We use your data for ${key.replace(/_/g, ' ')}.`,
  categories,
  lawfulBasis: 'CONSENT',
  retentionDays: 365,
});

/** The tenant's policy version in force, as anyone signed in sees it. */
export async function currentPolicy(stack: TestStack, tenantId: string): Promise<PolicyVersion | null> {
  const response = await stack.gql<{ tenantPolicy: PolicyVersion | null }>(
    `query($t: ID!) { tenantPolicy(tenantId: $t) { ${POLICY_FIELDS} } }`,
    { t: tenantId },
    { token: await stack.tokens.admin() },
  );
  expectNoErrors(response);
  return response.data!.tenantPolicy;
}

/** A tenant admin publishes a policy version declaring these purposes (in force at once unless effectiveAt is later). */
export async function publishPolicy(
  stack: TestStack,
  tenantId: string,
  input: { version: string; purposes: PurposeDeclaration[]; url?: string; textHash?: string; effectiveAt?: string },
): Promise<PolicyVersion> {
  const response = await stack.gql<{ publishPolicyVersion: PolicyVersion }>(
    `mutation($i: PublishPolicyVersionInput!) { publishPolicyVersion(input: $i) { ${POLICY_FIELDS} } }`,
    { i: { url: `https://shop.example/privacy/${input.version}`, textHash: createHash('sha256').update(`policy ${input.version}`).digest('hex'), ...input } },
    { token: await stack.tokens.tenant(tenantId, ['tenant:admin']) },
  );
  expectNoErrors(response);
  return response.data!.publishPolicyVersion;
}

/**
 * The version a grant for this purpose and these categories can name: the one in force if it declares
 * them, else the tenant publishes a next version that adds them (as a shop would before asking).
 */
export async function policyVersionFor(stack: TestStack, tenantId: string, purpose: string, categories: string[]): Promise<string> {
  const current = await currentPolicy(stack, tenantId);
  const declared = current?.purposes.find((p) => p.key === purpose);
  if (current && declared && categories.every((c) => declared.categories.includes(c))) return current.version;
  const others = (current?.purposes ?? []).filter((p) => p.key !== purpose);
  const widened = purposeOf(purpose, [...new Set([...(declared?.categories ?? []), ...categories])]);
  const next = `v${(current ? Number(current.version.replace(/^v/, '')) || 1 : 0) + 1}`;
  return (await publishPolicy(stack, tenantId, { version: next, purposes: [...others, widened] })).version;
}

/** The subject grants a consent against the tenant's policy in force (published for the purpose if needed). */
export async function grantConsent(
  stack: TestStack,
  subject: Subject,
  input: { tenantId: string; purpose: string; categories: string[]; policyVersion?: string; expiresAt?: string },
): Promise<string> {
  const policyVersion = input.policyVersion ?? (await policyVersionFor(stack, input.tenantId, input.purpose, input.categories));
  const response = await stack.gql<{ grantConsent: { id: string } }>(
    'mutation($input: GrantConsentInput!) { grantConsent(input: $input) { id } }',
    { input: { ...input, policyVersion } },
    { token: subject.token },
  );
  expectNoErrors(response);
  return response.data!.grantConsent.id;
}

export interface AuditNode {
  seq: number;
  action: string;
  field: string | null;
  decision: string;
  reason: string;
  consentId: string | null;
  purpose: string | null;
  subjectRef: string | null;
  tenantId: string | null;
  requestId: string;
}

export async function auditEvents(stack: TestStack, token: string, filter: Record<string, unknown> = {}, first = 200): Promise<AuditNode[]> {
  const response = await stack.gql<{ auditEvents: { edges: { node: AuditNode }[] } }>(
    `query($first: Int, $filter: AuditFilter) { auditEvents(first: $first, filter: $filter) {
       edges { node { seq action field decision reason consentId purpose subjectRef tenantId requestId } } } }`,
    { first, filter },
    { token },
  );
  expectNoErrors(response);
  return response.data!.auditEvents.edges.map((e) => e.node);
}

export const PROFILE = {
  email: 'alice@example.com',
  phone: '+49 30 1234567',
  givenName: 'Alice',
  familyName: 'Liddell',
  birthDate: '1990-05-17',
  address: { line1: 'Hauptstraße 1', city: 'Berlin', postalCode: '10115', country: 'DE' },
  nationalId: 'T22000129',
};

/** A platform admin finds a subject's internal id through the blind index (an audited lookup). */
export async function subjectIdByEmail(stack: TestStack, email: string): Promise<string> {
  const response = await stack.gql<{ subjectsByEmail: { subjectId: string }[] }>(
    'query($e: String!) { subjectsByEmail(email: $e, reason: "test-lookup") { subjectId } }',
    { e: email },
    { token: await stack.tokens.admin() },
  );
  expectNoErrors(response);
  expect(response.data!.subjectsByEmail).toHaveLength(1);
  return response.data!.subjectsByEmail[0].subjectId;
}

/** Every row of every table of the stack's schemas whose text contains one of the needles (text or hex). */
export async function rowsContaining(stack: TestStack, needles: string[], schemaSuffixes?: string[]): Promise<string[]> {
  const prefix = stack.schema('');
  const tables = await stack.sql<{ table_schema: string; table_name: string }>(
    `SELECT table_schema, table_name FROM information_schema.tables WHERE starts_with(table_schema, $1) AND table_type = 'BASE TABLE'`,
    [prefix],
  );
  const hits: string[] = [];
  for (const { table_schema, table_name } of tables) {
    if (schemaSuffixes && !schemaSuffixes.includes(table_schema.slice(prefix.length))) continue;
    const rows = await stack.sql<{ dump: string }>(`SELECT t::text AS dump FROM "${table_schema}"."${table_name}" t`);
    for (const { dump } of rows) {
      const lower = dump.toLowerCase();
      for (const needle of needles) {
        if (dump.includes(needle) || lower.includes(Buffer.from(needle).toString('hex'))) hits.push(`${table_schema.slice(prefix.length)}.${table_name}: ${needle}`);
      }
    }
  }
  return hits;
}
