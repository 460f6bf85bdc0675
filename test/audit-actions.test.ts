import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIT_ACTIONS } from '../shared/audit/events';
import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, grantConsent, policyVersionFor } from './kit/scenario';

/** Consent and admin actions are audited before they take effect, with an action from the closed list. */
describe('auditing of consent and admin actions', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  test('tenant creation, connection, policy publication, grant and withdrawal each leave one event, visible to the tenant with the pairwise ref', async () => {
    const admin = await stack.tokens.admin();
    const shop = await createTenant(stack, 'Audited Shop');
    const subject = await createSubject(stack, 'audited', { email: 'audited@example.com' }, [shop]);
    const consentId = await grantConsent(stack, subject, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'] });
    expectNoErrors(await stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { status } }', { id: consentId }, { token: subject.token }));

    const tenantView = await auditEvents(stack, await stack.tokens.tenant(shop, []), {});
    const actions = tenantView.map((e) => [e.action, e.field, e.purpose, e.consentId, e.subjectRef, e.reason]).reverse();
    expect(actions).toEqual([
      ['TENANT_CREATE', null, null, null, null, 'ADMIN'],
      ['TENANT_CONNECT', null, null, null, subject.refs[shop], 'SELF'],
      ['POLICY_PUBLISH', 'PolicyVersion.v1', null, null, null, 'TENANT'],
      ['CONSENT_GRANT', null, 'newsletter', consentId, subject.refs[shop], 'SELF'],
      ['CONSENT_WITHDRAW', null, 'newsletter', consentId, subject.refs[shop], 'SELF'],
    ]);
    // The admin filters by action.
    const grants = await auditEvents(stack, admin, { action: 'CONSENT_GRANT', tenantId: shop });
    expect(grants.map((e) => e.consentId)).toEqual([consentId]);
    // Filter by who acted.
    const byAdmins = await auditEvents(stack, admin, { actorType: 'PLATFORM_ADMIN', tenantId: shop });
    expect(byAdmins.map((e) => e.action)).toEqual(['TENANT_CREATE']);
    // Another tenant sees none of it.
    const other = await createTenant(stack, 'Other Audited Shop');
    const otherView = await auditEvents(stack, await stack.tokens.tenant(other, []), {});
    expect(otherView.map((e) => e.action)).toEqual(['TENANT_CREATE']);
    expect(JSON.stringify(tenantView)).not.toContain('audited@example.com');
  });

  test('withdrawing someone else\'s consent is NOT_FOUND and records nothing', async () => {
    const shop = await createTenant(stack, 'Withdraw Shop');
    const owner = await createSubject(stack, 'owner', { email: 'owner@example.com' }, [shop]);
    const consentId = await grantConsent(stack, owner, { tenantId: shop, purpose: 'support', categories: ['CONTACT'] });
    const stranger = await stack.tokens.subject('stranger');
    const before = (await auditEvents(stack, await stack.tokens.admin(), { action: 'CONSENT_WITHDRAW' })).length;
    const refused = await stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { status } }', { id: consentId }, { token: stranger });
    expect(codes(refused)).toEqual(['NOT_FOUND']);
    expect((await auditEvents(stack, await stack.tokens.admin(), { action: 'CONSENT_WITHDRAW' })).length).toBe(before);
  });

  test('with the audit log down, grants, withdrawals and tenant creation are refused with AUDIT_UNAVAILABLE and nothing changes', async () => {
    const shop = await createTenant(stack, 'Outage Shop');
    const subject = await createSubject(stack, 'outage', { email: 'outage@example.com' }, [shop]);
    const consentId = await grantConsent(stack, subject, { tenantId: shop, purpose: 'support', categories: ['CONTACT'] });
    const version = await policyVersionFor(stack, shop, 'marketing', ['CONTACT']);
    await stack.running.subgraphs.audit.stop();
    const grant = await stack.gql(
      'mutation($t: ID!, $v: String!) { grantConsent(input: { tenantId: $t, purpose: "marketing", categories: [CONTACT], policyVersion: $v }) { id } }',
      { t: shop, v: version },
      { token: subject.token },
    );
    expect(codes(grant)).toEqual(['AUDIT_UNAVAILABLE']);
    const withdraw = await stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { status } }', { id: consentId }, { token: subject.token });
    expect(codes(withdraw)).toEqual(['AUDIT_UNAVAILABLE']);
    const tenant = await stack.gql('mutation { createTenant(input: { name: "Ghost Shop" }) { id } }', {}, { token: await stack.tokens.admin() });
    expect(codes(tenant)).toEqual(['AUDIT_UNAVAILABLE']);

    const consents = await stack.gql('{ me { consents { purpose status } } }', {}, { token: subject.token });
    expect(consents.data?.me.consents).toEqual([{ purpose: 'support', status: 'ACTIVE' }]);
    const tenants = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.identity}".tenant WHERE name = 'Ghost Shop'`);
    expect(tenants[0].n).toBe(0);
  });
});

describe('the closed list of audit actions', () => {
  test('the table in docs/audit.md, AUDIT_ACTIONS and the GraphQL enum AuditAction name the same actions', () => {
    const doc = readFileSync(join(__dirname, '..', 'docs', 'audit.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Audit actions'));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual([...AUDIT_ACTIONS]);
    const sdl = readFileSync(join(__dirname, '..', 'subgraphs', 'audit', 'src', 'schema.graphql'), 'utf8');
    const enumBody = /enum AuditAction \{([^}]*)\}/.exec(sdl)?.[1] ?? '';
    const values = enumBody.split('\n').map((line) => line.trim()).filter((line) => /^[A-Z_]+$/.test(line));
    expect(values).toEqual([...AUDIT_ACTIONS]);
  });
});
