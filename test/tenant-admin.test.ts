import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_APP_CLIENT_ID, loadOrCreateDevIssuerKey, mintDevToken, type DevIssuerKey } from '../shared/auth/dev-issuer';
import { startLogtoDouble, type LogtoDouble } from './kit/logto-double';
import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, grantConsent, setStorefrontClients, subjectIdByEmail, type Subject } from './kit/scenario';

const BLOCK = 'mutation($ref: ID!, $reason: String!) { blockUser(ref: $ref, reason: $reason) { ref status } }';
const UNBLOCK = 'mutation($ref: ID!) { unblockUser(ref: $ref) { ref status } }';
const SUSPEND = 'mutation($s: ID!, $reason: String!) { suspendSubject(subjectId: $s, reason: $reason) }';
const REINSTATE = 'mutation($s: ID!, $reason: String!) { reinstateSubject(subjectId: $s, reason: $reason) }';
const UPDATE_TENANT = 'mutation($id: ID!, $input: UpdateTenantInput!) { updateTenant(id: $id, input: $input) { id name idpOrganizationId } }';
const READ = 'query($ref: ID!) { user(ref: $ref) { ref status email } }';
const PASSPORT = 'mutation($t: ID!) { issuePassport(tenantId: $t) { token } }';
const PURPOSE = 'order_fulfillment';

describe('tenant administration', () => {
  let stack: TestStack;
  let shop: string;
  let otherShop: string;
  let admin: string;
  let shopAdmin: string;
  let otherShopAdmin: string;
  let shopReader: string;
  let otherShopReader: string;

  /** A customer of both shops, with consent to both for order fulfilment. */
  async function customer(name: string): Promise<Subject> {
    const subject = await createSubject(stack, name, { email: `${name}@example.com` }, [shop, otherShop]);
    for (const tenantId of [shop, otherShop]) await grantConsent(stack, subject, { tenantId, purpose: PURPOSE, categories: ['CONTACT'] });
    return subject;
  }
  const read = (token: string, ref: string) => stack.gql<{ user: { ref: string; status: string; email: string | null } }>(READ, { ref }, { token, purpose: PURPOSE });
  const statusInList = async (token: string, ref: string) => {
    const page = await stack.gql<{ users: { edges: { node: { ref: string; status: string } }[] } }>('{ users(first: 100) { edges { node { ref status } } } }', {}, { token });
    expectNoErrors(page);
    return page.data!.users.edges.find((e) => e.node.ref === ref)?.node.status;
  };

  beforeAll(async () => {
    stack = await startTestStack();
    shop = await createTenant(stack, 'Blocking Shop');
    otherShop = await createTenant(stack, 'Other Blocking Shop');
    admin = await stack.tokens.admin();
    shopAdmin = await stack.tokens.tenant(shop, ['tenant:admin']);
    otherShopAdmin = await stack.tokens.tenant(otherShop, ['tenant:admin']);
    shopReader = await stack.tokens.tenant(shop, ['pii:contact:read']);
    otherShopReader = await stack.tokens.tenant(otherShop, ['pii:contact:read']);
    // Passports for either shop are asked for from the dev issuer's app, the shops' registered storefront.
    for (const tenantId of [shop, otherShop]) await setStorefrontClients(stack, tenantId, [DEV_APP_CLIENT_ID]);
  });
  afterAll(() => stack?.stop());

  test('a tenant admin blocks a user for its own shop only: status BLOCKED, USER_BLOCKED instead of PII, no passport; the other shop and the user themself are unaffected; unblocking restores it', async () => {
    const dana = await customer('block-dana');
    const ref = dana.refs[shop];
    const blocked = await stack.gql(BLOCK, { ref, reason: 'chargeback-4711' }, { token: shopAdmin });
    expectNoErrors(blocked);
    expect(blocked.data!.blockUser).toEqual({ ref, status: 'BLOCKED' });

    // The shop sees the status everywhere it sees the user, and no personal data.
    const asShop = await read(shopReader, ref);
    expect(asShop.data!.user).toEqual({ ref, status: 'BLOCKED', email: null });
    expect(codes(asShop)).toEqual(['USER_BLOCKED']);
    expect(await statusInList(shopAdmin, ref)).toBe('BLOCKED');
    const entities = await stack.gql('query($r: [_Any!]!) { _entities(representations: $r) { ... on User { ref status } } }', {
      r: [{ __typename: 'User', id: await subjectIdByEmail(stack, 'block-dana@example.com') }],
    }, { token: shopReader, service: 'identity' });
    expect(entities.data?._entities).toEqual([{ ref, status: 'BLOCKED' }]);
    // The vault's refusal is audited like any other (DENY with the code), and the block with its reason code.
    const events = await auditEvents(stack, shopAdmin, { subjectRef: ref });
    expect(events.map((e) => [e.action, e.decision, e.reason, e.purpose, e.field]).filter(([action]) => action !== 'CONSENT_GRANT' && action !== 'TENANT_CONNECT').reverse()).toEqual([
      ['USER_BLOCK', 'ALLOW', 'TENANT', 'chargeback-4711', null],
      ['PII_READ', 'DENY', 'USER_BLOCKED', PURPOSE, 'User.email'],
    ]);
    // No passport for the shop that blocked; the other shop still reads and is still vouched for.
    expect(codes(await stack.gql(PASSPORT, { t: shop }, { token: dana.token }))).toEqual(['USER_BLOCKED']);
    expectNoErrors(await stack.gql(PASSPORT, { t: otherShop }, { token: dana.token }));
    const asOtherShop = await read(otherShopReader, dana.refs[otherShop]);
    expectNoErrors(asOtherShop);
    expect(asOtherShop.data!.user).toEqual({ ref: dana.refs[otherShop], status: 'ACTIVE', email: 'block-dana@example.com' });
    // Dana still reads her own profile and sees which shop blocked her.
    const own = await stack.gql<{ me: { status: string; email: string }; myTenantLinks: { tenantId: string; status: string }[] }>(
      '{ me { status email } myTenantLinks { tenantId status } }',
      {},
      { token: dana.token },
    );
    expectNoErrors(own);
    expect(own.data!.me).toEqual({ status: 'ACTIVE', email: 'block-dana@example.com' });
    expect(Object.fromEntries(own.data!.myTenantLinks.map((l) => [l.tenantId, l.status]))).toEqual({ [shop]: 'BLOCKED', [otherShop]: 'ACTIVE' });

    const unblocked = await stack.gql(UNBLOCK, { ref }, { token: shopAdmin });
    expectNoErrors(unblocked);
    expect(unblocked.data!.unblockUser).toEqual({ ref, status: 'ACTIVE' });
    const again = await read(shopReader, ref);
    expectNoErrors(again);
    expect(again.data!.user.email).toBe('block-dana@example.com');
    expectNoErrors(await stack.gql(PASSPORT, { t: shop }, { token: dana.token }));
    expect((await auditEvents(stack, shopAdmin, { action: 'USER_UNBLOCK' })).map((e) => e.subjectRef)).toEqual([ref]);
  });

  test('blocking is refused to a subject, a shop backend without tenant:admin, a platform admin, for another shop\'s ref and without a valid reason code; nothing changes', async () => {
    const erin = await customer('block-erin');
    const ref = erin.refs[shop];
    const refusals: [string, Record<string, unknown>, string, string[]][] = [
      ['subject', { ref, reason: 'fraud' }, erin.token, ['FORBIDDEN']],
      ['shop backend without tenant:admin', { ref, reason: 'fraud' }, shopReader, ['SCOPE_REQUIRED']],
      ['platform admin', { ref, reason: 'fraud' }, admin, ['FORBIDDEN']],
      ["another shop's admin with this shop's ref", { ref, reason: 'fraud' }, otherShopAdmin, ['NOT_FOUND']],
      ['an unknown ref', { ref: 'no-such-ref', reason: 'fraud' }, shopAdmin, ['NOT_FOUND']],
      ['free text as reason', { ref, reason: 'Erin Smith keeps returning parcels' }, shopAdmin, ['BAD_USER_INPUT']],
      ['an empty reason', { ref, reason: '' }, shopAdmin, ['BAD_USER_INPUT']],
    ];
    for (const [, variables, token, expected] of refusals) {
      const response = await stack.gql(BLOCK, variables, { token });
      expect(codes(response)).toEqual(expected);
      expect(response.data?.blockUser ?? null).toBeNull();
    }
    const missing = await stack.gql('mutation($ref: ID!) { blockUser(ref: $ref) { status } }', { ref }, { token: shopAdmin });
    expect(codes(missing)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(await stack.gql(UNBLOCK, { ref }, { token: erin.token }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(UNBLOCK, { ref }, { token: otherShopAdmin }))).toEqual(['NOT_FOUND']);
    expect(await statusInList(shopAdmin, ref)).toBe('ACTIVE');
    expect((await auditEvents(stack, admin, { action: 'USER_BLOCK' })).filter((e) => e.subjectRef === ref)).toEqual([]);
  });

  test('a platform admin suspends a subject everywhere: every shop sees BLOCKED and no PII and is told by webhook, the subject\'s tokens are refused; reinstatement lifts it but not a shop\'s own block', async () => {
    const fay = await customer('suspend-fay');
    const fayId = await subjectIdByEmail(stack, 'suspend-fay@example.com');
    expectNoErrors(await stack.gql(BLOCK, { ref: fay.refs[otherShop], reason: 'abuse' }, { token: otherShopAdmin }));

    const suspended = await stack.gql(SUSPEND, { s: fayId, reason: 'tos-violation' }, { token: admin });
    expectNoErrors(suspended);
    expect(suspended.data!.suspendSubject).toBe('BLOCKED');
    for (const [token, ref] of [[shopReader, fay.refs[shop]], [otherShopReader, fay.refs[otherShop]]]) {
      const response = await read(token, ref);
      expect(response.data!.user).toEqual({ ref, status: 'BLOCKED', email: null });
      expect(codes(response)).toEqual(['USER_BLOCKED']);
    }
    const refused = await stack.gql('{ me { status } }', {}, { token: fay.token });
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.errors?.[0].message).toMatch(/blocked/i);
    expect(codes(await stack.gql(PASSPORT, { t: shop }, { token: fay.token }))).toEqual(['FORBIDDEN']);
    // Each connected shop is told once, with the ref it knows.
    const told = await stack.sql<{ tenant_id: string; data: unknown }>(
      `SELECT tenant_id, data FROM "${stack.schemas.identity}".webhook_event WHERE type = 'subject.blocked' AND data->>'ref' = ANY ($1)`,
      [[fay.refs[shop], fay.refs[otherShop]]],
    );
    expect(told.map((e) => e.data)).toEqual(expect.arrayContaining([{ tenantId: shop, ref: fay.refs[shop] }, { tenantId: otherShop, ref: fay.refs[otherShop] }]));
    expect(told).toHaveLength(2);
    const [event] = (await auditEvents(stack, admin, { action: 'SUBJECT_SUSPEND' })).filter((e) => e.field === 'Subject.BLOCKED' && e.purpose === 'tos-violation');
    expect(event).toMatchObject({ decision: 'ALLOW', reason: 'ADMIN', tenantId: null });

    const reinstated = await stack.gql(REINSTATE, { s: fayId, reason: 'appeal-upheld' }, { token: admin });
    expectNoErrors(reinstated);
    expect(reinstated.data!.reinstateSubject).toBe('ACTIVE');
    expectNoErrors(await stack.gql('{ me { status } }', {}, { token: fay.token }));
    const back = await read(shopReader, fay.refs[shop]);
    expectNoErrors(back);
    expect(back.data!.user).toEqual({ ref: fay.refs[shop], status: 'ACTIVE', email: 'suspend-fay@example.com' });
    // The other shop's own block outlives the reinstatement.
    expect(codes(await read(otherShopReader, fay.refs[otherShop]))).toEqual(['USER_BLOCKED']);
    expect(await statusInList(otherShopAdmin, fay.refs[otherShop])).toBe('BLOCKED');

    // Only a platform admin, only a known subject, only with a reason code.
    for (const token of [shopAdmin, fay.token]) expect(codes(await stack.gql(SUSPEND, { s: fayId, reason: 'fraud' }, { token }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(SUSPEND, { s: '00000000-0000-4000-8000-000000000000', reason: 'fraud' }, { token: admin }))).toEqual(['NOT_FOUND']);
    expect(codes(await stack.gql(SUSPEND, { s: 'not-an-id', reason: 'fraud' }, { token: admin }))).toEqual(['NOT_FOUND']);
    expect(codes(await stack.gql(SUSPEND, { s: fayId, reason: 'Fay was rude on the phone' }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stack.gql(REINSTATE, { s: fayId, reason: '' }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    expectNoErrors(await stack.gql('{ me { status } }', {}, { token: fay.token }));
  });

  test('updateTenant renames a tenant and moves it to another IdP organization: tokens of the new organization get in, those of the old one no longer; the id stays unique', async () => {
    const moving = await createTenant(stack, 'Moving Shop');
    const target = `org_${moving.slice(0, 8)}`;
    // Before the change no tenant answers to the new organization.
    expect(codes(await stack.gql('{ users { edges { cursor } } }', {}, { token: await stack.tokens.tenant(target, ['tenant:admin']) }))).toEqual(['FORBIDDEN']);

    const renamed = await stack.gql(UPDATE_TENANT, { id: moving, input: { name: '  Moved Shop  ' } }, { token: admin });
    expectNoErrors(renamed);
    expect(renamed.data!.updateTenant).toEqual({ id: moving, name: 'Moved Shop', idpOrganizationId: moving });
    const moved = await stack.gql(UPDATE_TENANT, { id: moving, input: { idpOrganizationId: target } }, { token: admin });
    expectNoErrors(moved);
    expect(moved.data!.updateTenant).toEqual({ id: moving, name: 'Moved Shop', idpOrganizationId: target });
    const asNewOrg = await stack.gql('{ users { edges { cursor } } }', {}, { token: await stack.tokens.tenant(target, ['tenant:admin']) });
    expectNoErrors(asNewOrg);
    expect(codes(await stack.gql('{ users { edges { cursor } } }', {}, { token: await stack.tokens.tenant(moving, ['tenant:admin']) }))).toEqual(['FORBIDDEN']);
    const updates = (await auditEvents(stack, admin, { action: 'TENANT_UPDATE', tenantId: moving })).map((e) => [e.field, e.reason]).reverse();
    expect(updates).toEqual([
      ['Tenant.name', 'ADMIN'],
      ['Tenant.idpOrganizationId', 'ADMIN'],
    ]);

    // Unique across tenants, well-formed, something to change, an existing tenant, a platform admin.
    const taken = await stack.gql(UPDATE_TENANT, { id: shop, input: { idpOrganizationId: target } }, { token: admin });
    expect(codes(taken)).toEqual(['BAD_USER_INPUT']);
    expect(taken.errors?.[0].extensions?.field).toBe('input.idpOrganizationId');
    expect(taken.errors?.[0].message).toMatch(/another tenant/i);
    expect(codes(await stack.gql(UPDATE_TENANT, { id: moving, input: { idpOrganizationId: 'has spaces' } }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stack.gql(UPDATE_TENANT, { id: moving, input: { name: 'x'.repeat(201) } }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stack.gql(UPDATE_TENANT, { id: moving, input: {} }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stack.gql(UPDATE_TENANT, { id: '00000000-0000-4000-8000-000000000000', input: { name: 'Ghost' } }, { token: admin }))).toEqual(['NOT_FOUND']);
    for (const token of [await stack.tokens.tenant(target, ['tenant:admin']), shopAdmin, await stack.tokens.subject('tenant-admin-subject')]) {
      expect(codes(await stack.gql(UPDATE_TENANT, { id: moving, input: { name: 'Hijacked' } }, { token }))).toEqual(['FORBIDDEN']);
    }
    const tenants = await stack.gql<{ tenants: { id: string; name: string; idpOrganizationId: string }[] }>('{ tenants { id name idpOrganizationId } }', {}, { token: admin });
    expect(tenants.data!.tenants.find((t) => t.id === moving)).toEqual({ id: moving, name: 'Moved Shop', idpOrganizationId: target });
    expect(tenants.data!.tenants.find((t) => t.id === shop)?.idpOrganizationId).toBe(shop);
  });
});

describe('tenant creation with an external identity provider', () => {
  const AUDIENCE = 'https://api.privgraph.test';
  let logto: LogtoDouble;
  let stack: TestStack;
  let key: DevIssuerKey;
  let keyDir: string;
  let issuer: string;
  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'privgraph-idp-key-'));
    key = await loadOrCreateDevIssuerKey(keyDir);
    logto = await startLogtoDouble({ jwks: key.jwks });
    issuer = `${logto.endpoint}/oidc`;
    stack = await startTestStack({ env: { LOGTO_ENDPOINT: logto.endpoint, AUTH_AUDIENCE: AUDIENCE } });
  });
  afterAll(async () => {
    await stack?.stop();
    await logto?.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  test('createTenant requires the IdP organization id (a default one would match no token), and the organization\'s tokens reach it', async () => {
    const admin = await mintDevToken(key, { sub: 'platform-admin', clientId: 'platform-admin', scopes: ['platform:admin'], issuer, audience: AUDIENCE });
    const create = 'mutation($input: CreateTenantInput!) { createTenant(input: $input) { id idpOrganizationId } }';
    const refused = await stack.gql(create, { input: { name: 'No Org Shop' } }, { token: admin });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors?.[0].extensions?.field).toBe('input.idpOrganizationId');
    expect(codes(await stack.gql(create, { input: { name: 'Blank Org Shop', idpOrganizationId: '  ' } }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    const created = await stack.gql<{ createTenant: { id: string; idpOrganizationId: string } }>(create, { input: { name: 'Org Shop', idpOrganizationId: 'lg-org-1' } }, { token: admin });
    expectNoErrors(created);
    expect(created.data!.createTenant.idpOrganizationId).toBe('lg-org-1');
    const machine = await mintDevToken(key, { sub: 'm2m-app', clientId: 'm2m-app', organizationId: 'lg-org-1', scopes: ['tenant:admin'], issuer, audience: AUDIENCE });
    expectNoErrors(await stack.gql('{ users { edges { cursor } } }', {}, { token: machine }));
  });
});
