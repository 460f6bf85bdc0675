import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { DEV_ALGORITHM, DEV_APP_CLIENT_ID, DEV_AUDIENCE, DEV_ISSUER } from '../shared/auth/dev-issuer';
import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, grantConsent, setStorefrontClients, type Subject } from './kit/scenario';

const ISSUE = 'mutation($t: ID!) { issuePassport(tenantId: $t) { token expiresAt } }';
const ISSUER = 'https://shop-logins.privgraph.test';
const TTL_SECONDS = 120;
/** The documented claim set (docs/passports.md): nothing else, and no personal data. */
const CLAIMS = ['aud', 'azp', 'email_verified', 'exp', 'iat', 'iss', 'jti', 'phone_number_verified', 'purposes', 'status', 'sub'];

describe('passports for shop logins', () => {
  let stack: TestStack;
  let shop: string;
  let otherShop: string;
  let alice: Subject;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    stack = await startTestStack({ env: { PASSPORT_ISSUER: ISSUER, PASSPORT_TTL_SECONDS: String(TTL_SECONDS) } });
    shop = await createTenant(stack, 'Passport Shop');
    otherShop = await createTenant(stack, 'Other Passport Shop');
    // Both shops' storefronts are the app the dev issuer's subject tokens are issued to.
    for (const tenantId of [shop, otherShop]) await setStorefrontClients(stack, tenantId, [DEV_APP_CLIENT_ID]);
    alice = await createSubject(stack, 'passport-alice', { email: 'alice.passport@example.com', givenName: 'Alice', phone: '+49301234567' }, [shop, otherShop]);
    jwks = createRemoteJWKSet(new URL(`${stack.running.gateway.url}/.well-known/jwks.json`));
  });
  afterAll(() => stack?.stop());

  async function issue(tenantId: string, token: string) {
    const response = await stack.gql<{ issuePassport: { token: string; expiresAt: string } }>(ISSUE, { t: tenantId }, { token });
    expectNoErrors(response);
    return response.data!.issuePassport;
  }

  const verify = (token: string, audience: string) => jwtVerify(token, jwks, { typ: 'privgraph-passport+jwt', audience, issuer: ISSUER, algorithms: ['ES256'] });

  test('a subject gets a passport a shop verifies offline with a stock JOSE library: its ref, its audience, short-lived, the documented claims only', async () => {
    const passport = await issue(shop, alice.token);
    const { payload, protectedHeader } = await verify(passport.token, shop);
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'privgraph-passport+jwt' });
    expect(typeof protectedHeader.kid).toBe('string');
    expect(Object.keys(payload).sort()).toEqual(CLAIMS);
    expect(payload).toMatchObject({ iss: ISSUER, sub: alice.refs[shop], aud: shop, azp: DEV_APP_CLIENT_ID, status: 'ACTIVE', purposes: [], email_verified: false, phone_number_verified: false });
    expect(payload.exp! - payload.iat!).toBe(TTL_SECONDS);
    expect(new Date(passport.expiresAt).getTime()).toBe(payload.exp! * 1000);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    // Nothing the vault holds about alice, nor her IdP identity or internal id, is in it.
    const text = JSON.stringify({ header: decodeProtectedHeader(passport.token), payload: decodeJwt(passport.token) });
    for (const secret of ['alice.passport@example.com', 'Alice', '+49301234567', 'passport-alice']) expect(text).not.toContain(secret);
    const [internal] = await stack.sql<{ id: string }>(`SELECT id FROM "${stack.schemas.identity}".subject WHERE sub = $1`, ['passport-alice']);
    expect(text).not.toContain(internal.id);

    // Each passport is unique; the other shop's passport names the ref that shop knows, and neither passes for the other.
    const again = await issue(shop, alice.token);
    expect(decodeJwt(again.token).jti).not.toBe(payload.jti);
    const other = await issue(otherShop, alice.token);
    expect((await verify(other.token, otherShop)).payload.sub).toBe(alice.refs[otherShop]);
    expect(alice.refs[otherShop]).not.toBe(alice.refs[shop]);
    await expect(verify(passport.token, otherShop)).rejects.toThrow();
    await expect(jwtVerify(passport.token, jwks, { typ: 'at+jwt', audience: shop, issuer: ISSUER, algorithms: ['ES256'] })).rejects.toThrow();
    const [header, , signature] = passport.token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...payload, sub: alice.refs[otherShop] })).toString('base64url');
    await expect(verify(`${header}.${forged}.${signature}`, shop)).rejects.toThrow();
  });

  test("purposes follow the subject's consents to that tenant: a grant adds one, a withdrawal removes it, another shop's consent never shows", async () => {
    const bob = await createSubject(stack, 'passport-bob', { email: 'bob.passport@example.com' }, [shop, otherShop]);
    const purposesOf = async (tenantId: string) => (await verify((await issue(tenantId, bob.token)).token, tenantId)).payload.purposes;
    expect(await purposesOf(shop)).toEqual([]);
    const newsletter = await grantConsent(stack, bob, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'] });
    await grantConsent(stack, bob, { tenantId: shop, purpose: 'delivery', categories: ['CONTACT'] });
    await grantConsent(stack, bob, { tenantId: otherShop, purpose: 'marketing', categories: ['CONTACT'] });
    expect(await purposesOf(shop)).toEqual(['delivery', 'newsletter']);
    expectNoErrors(await stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { status } }', { id: newsletter }, { token: bob.token }));
    expect(await purposesOf(shop)).toEqual(['delivery']);
    expect(await purposesOf(otherShop)).toEqual(['marketing']);
  });

  test("verification flags come from the access token's email_verified / phone_number_verified claims, and only real booleans count", async () => {
    const flagsOf = async (token: string) => {
      const { payload } = await verify((await issue(shop, token)).token, shop);
      return [payload.email_verified, payload.phone_number_verified];
    };
    expect(await flagsOf(await stack.tokens.subject('passport-alice', { email: true }))).toEqual([true, false]);
    expect(await flagsOf(await stack.tokens.subject('passport-alice', { email: true, phoneNumber: true }))).toEqual([true, true]);
    expect(await flagsOf(await stack.tokens.subject('passport-alice', { email: false, phoneNumber: true }))).toEqual([false, true]);
    // An IdP that writes the claim as a string asserts nothing.
    const stringly = await new SignJWT({ client_id: DEV_APP_CLIENT_ID, scope: 'openid', email_verified: 'true', phone_number_verified: 1 })
      .setProtectedHeader({ alg: DEV_ALGORITHM, kid: stack.key.kid, typ: 'at+jwt' })
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setSubject('passport-alice')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(stack.key.privateKey);
    expect(await flagsOf(stringly)).toEqual([false, false]);
  });

  test('each passport is audited as PASSPORT_ISSUE for the tenant (which sees its ref); refusals issue and audit nothing', async () => {
    const carol = await createSubject(stack, 'passport-carol', { email: 'carol.passport@example.com' }, [shop]);
    const before = await auditEvents(stack, await stack.tokens.admin(), { action: 'PASSPORT_ISSUE' });
    await issue(shop, carol.token);
    const tenantView = await auditEvents(stack, await stack.tokens.tenant(shop, ['tenant:admin']), { action: 'PASSPORT_ISSUE' });
    expect(tenantView.filter((e) => e.subjectRef === carol.refs[shop])).toEqual([
      expect.objectContaining({ action: 'PASSPORT_ISSUE', decision: 'ALLOW', reason: 'SELF', tenantId: shop, subjectRef: carol.refs[shop] }),
    ]);
    // Not connected to the other shop: NOT_CONNECTED; an unknown or malformed tenant: NOT_FOUND.
    const notConnected = await stack.gql(ISSUE, { t: otherShop }, { token: carol.token });
    expect(codes(notConnected)).toEqual(['NOT_CONNECTED']);
    expect(notConnected.data).toBeNull();
    expect(codes(await stack.gql(ISSUE, { t: '00000000-0000-4000-8000-000000000000' }, { token: carol.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await stack.gql(ISSUE, { t: 'not-a-tenant' }, { token: carol.token }))).toEqual(['NOT_FOUND']);
    // Only a subject: not a shop's backend, its admin, a platform admin or an anonymous caller.
    expect(codes(await stack.gql(ISSUE, { t: shop }, { token: await stack.tokens.tenant(shop, ['tenant:admin']) }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(ISSUE, { t: shop }, { token: await stack.tokens.admin() }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(ISSUE, { t: shop }, {}))).toEqual(['UNAUTHENTICATED']);
    const after = await auditEvents(stack, await stack.tokens.admin(), { action: 'PASSPORT_ISSUE' });
    expect(after.length - before.length).toBe(1);
  });

  test('a user the shop blocked gets no passport for it (USER_BLOCKED), still gets one for another shop, and again once unblocked; a suspended subject gets none', async () => {
    const dave = await createSubject(stack, 'passport-dave', { email: 'dave.passport@example.com' }, [shop, otherShop]);
    const shopAdmin = await stack.tokens.tenant(shop, ['tenant:admin']);
    expectNoErrors(await stack.gql('mutation($r: ID!) { blockUser(ref: $r, reason: "fraud-check") { status } }', { r: dave.refs[shop] }, { token: shopAdmin }));
    const refused = await stack.gql(ISSUE, { t: shop }, { token: dave.token });
    expect(codes(refused)).toEqual(['USER_BLOCKED']);
    expect(refused.data).toBeNull();
    await issue(otherShop, dave.token);
    expectNoErrors(await stack.gql('mutation($r: ID!) { unblockUser(ref: $r) { status } }', { r: dave.refs[shop] }, { token: shopAdmin }));
    expect((await verify((await issue(shop, dave.token)).token, shop)).payload.status).toBe('ACTIVE');

    const [subject] = await stack.sql<{ id: string }>(`SELECT id FROM "${stack.schemas.identity}".subject WHERE sub = $1`, ['passport-dave']);
    expectNoErrors(await stack.gql('mutation($s: ID!) { suspendSubject(subjectId: $s, reason: "tos-violation") }', { s: subject.id }, { token: await stack.tokens.admin() }));
    // A suspended subject's token is refused before any field runs.
    expect(codes(await stack.gql(ISSUE, { t: otherShop }, { token: dave.token }))).toEqual(['FORBIDDEN']);
  });

  test("a passport is issued only to an app the shop registered as its storefront: none registered, another shop's storefront app or a token naming no app is refused PASSPORT_CLIENT_NOT_ALLOWED, unaudited", async () => {
    const shopA = await createTenant(stack, 'Storefront Shop A');
    const shopB = await createTenant(stack, 'Storefront Shop B');
    const lost = await createTenant(stack, 'Storefront Shop Unconnected');
    await createSubject(stack, 'passport-erin', { email: 'erin.passport@example.com' }, [shopA, shopB]);
    const [storefrontA, storefrontB] = ['shop-a-storefront', 'shop-b-storefront'];
    const onA = await stack.tokens.subject('passport-erin', { clientId: storefrontA });
    const onB = await stack.tokens.subject('passport-erin', { clientId: storefrontB });
    const issued = async () => (await auditEvents(stack, await stack.tokens.admin(), { action: 'PASSPORT_ISSUE' })).length;
    const before = await issued();
    const refusedWith = async (tenantId: string, token: string) => {
      const response = await stack.gql<{ issuePassport: unknown }>(ISSUE, { t: tenantId }, { token });
      expect(response.data).toBeNull();
      return response;
    };

    // Fail closed: a shop that registered no storefront app gets no passports at all, and is told how to fix it.
    const none = await refusedWith(shopA, onA);
    expect(codes(none)).toEqual(['PASSPORT_CLIENT_NOT_ALLOWED']);
    expect(JSON.stringify(none.errors)).toContain('setStorefrontClients');
    expect(JSON.stringify(none.errors)).not.toContain(storefrontA);

    // Shop B's storefront (holding erin's token) cannot get a passport naming shop A; it gets one for shop B.
    expect(await setStorefrontClients(stack, shopB, [storefrontB])).toEqual([storefrontB]);
    expect(codes(await refusedWith(shopA, onB))).toEqual(['PASSPORT_CLIENT_NOT_ALLOWED']);
    const forB = await issue(shopB, onB);
    expect((await verify(forB.token, shopB)).payload).toMatchObject({ aud: shopB, azp: storefrontB });

    // Once shop A registers its own app, only that app's tokens get passports for A.
    await setStorefrontClients(stack, shopA, [storefrontA]);
    expect(codes(await refusedWith(shopA, onB))).toEqual(['PASSPORT_CLIENT_NOT_ALLOWED']);
    expect(codes(await refusedWith(shopA, await stack.tokens.subject('passport-erin')))).toEqual(['PASSPORT_CLIENT_NOT_ALLOWED']);
    expect((await verify((await issue(shopA, onA)).token, shopA)).payload.azp).toBe(storefrontA);

    // An access token that names no client is no storefront app's.
    const anonymousApp = await new SignJWT({ scope: 'openid' })
      .setProtectedHeader({ alg: DEV_ALGORITHM, kid: stack.key.kid, typ: 'at+jwt' })
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setSubject('passport-erin')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(stack.key.privateKey);
    expect(codes(await refusedWith(shopA, anonymousApp))).toEqual(['PASSPORT_CLIENT_NOT_ALLOWED']);

    // The app is judged before the subject: a foreign app learns nothing of erin's standing with a shop.
    expect(codes(await refusedWith(lost, onB))).toEqual(['PASSPORT_CLIENT_NOT_ALLOWED']);

    // Clearing the list stops passports again.
    await setStorefrontClients(stack, shopB, []);
    expect(codes(await refusedWith(shopB, onB))).toEqual(['PASSPORT_CLIENT_NOT_ALLOWED']);

    // Only the two passports issued were audited; the refusals left nothing.
    expect((await issued()) - before).toBe(2);
  });

  test('setStorefrontClients: a tenant admin replaces the list (bounded, strict client ids, duplicates dropped, audited); nobody else sets it and no other tenant sees it', async () => {
    const shopC = await createTenant(stack, 'Storefront Shop C');
    const shopD = await createTenant(stack, 'Storefront Shop D');
    const SET = 'mutation($c: [String!]!) { setStorefrontClients(clientIds: $c) { storefrontClients updatedAt } }';
    const READ = '{ tenantSettings { storefrontClients } }';
    const adminC = await stack.tokens.tenant(shopC, ['tenant:admin']);
    const set = await stack.gql<{ setStorefrontClients: { storefrontClients: string[]; updatedAt: string } }>(
      SET,
      { c: ['c-web', 'tv8m2lpx1dz9j3k0qw7rb', 'c-web', 'urn:shop-c:app.mobile_1'] },
      { token: adminC },
    );
    expectNoErrors(set);
    expect(set.data!.setStorefrontClients.storefrontClients).toEqual(['c-web', 'tv8m2lpx1dz9j3k0qw7rb', 'urn:shop-c:app.mobile_1']);
    expect(set.data!.setStorefrontClients.updatedAt).not.toBeNull();

    // Refused input changes nothing.
    const readC = async () => (await stack.gql<{ tenantSettings: { storefrontClients: string[] } }>(READ, {}, { token: adminC })).data!.tenantSettings.storefrontClients;
    for (const bad of [[''], ['has space'], ['-leading'], ['a"b'], ['x'.repeat(129)], ['c-web,other'], Array.from({ length: 21 }, (_, i) => `app-${i}`)]) {
      expect(codes(await stack.gql(SET, { c: bad }, { token: adminC }))).toEqual(['BAD_USER_INPUT']);
    }
    expect(await readC()).toEqual(['c-web', 'tv8m2lpx1dz9j3k0qw7rb', 'urn:shop-c:app.mobile_1']);
    expectNoErrors(await stack.gql(SET, { c: Array.from({ length: 20 }, (_, i) => `app-${i}`) }, { token: adminC }));
    expectNoErrors(await stack.gql(SET, { c: ['c-web'] }, { token: adminC }));

    // Each change is audited (newest first) with the list's new length, like the browser origins.
    const events = (await auditEvents(stack, adminC, { action: 'TENANT_SETTINGS_SET' })).filter((e) => e.field?.startsWith('StorefrontClients.'));
    expect(events.map((e) => e.field)).toEqual(['StorefrontClients.1', 'StorefrontClients.20', 'StorefrontClients.3']);
    expect(events.every((e) => e.tenantId === shopC)).toBe(true);

    // The shop's backend without tenant:admin, a staff member without it, a subject, another shop's admin (on its own
    // settings only) and a platform admin cannot change shop C's list.
    const notAdmins: [string, string][] = [
      [await stack.tokens.tenant(shopC, ['pii:contact:read']), 'SCOPE_REQUIRED'],
      [await stack.tokens.member(shopC, 'clerk-c', ['pii:contact:read']), 'SCOPE_REQUIRED'],
      [await stack.tokens.subject('passport-alice'), 'FORBIDDEN'],
      [await stack.tokens.admin(), 'FORBIDDEN'],
    ];
    for (const [token, code] of notAdmins) {
      const refused = await stack.gql(SET, { c: ['intruder-app'] }, { token });
      expect(codes(refused)).toEqual([code]);
      expect(refused.data).toBeNull();
    }
    expect(codes(await stack.gql(SET, { c: ['intruder-app'] }, {}))).toEqual(['UNAUTHENTICATED']);
    const adminD = await stack.tokens.tenant(shopD, ['tenant:admin']);
    expectNoErrors(await stack.gql(SET, { c: ['d-web'] }, { token: adminD }));
    expect(await readC()).toEqual(['c-web']);
    // Shop D sees its own list only.
    expect((await stack.gql<{ tenantSettings: { storefrontClients: string[] } }>(READ, {}, { token: adminD })).data!.tenantSettings.storefrontClients).toEqual(['d-web']);
    expect(codes(await stack.gql(READ, {}, { token: await stack.tokens.tenant(shopC, ['pii:contact:read']) }))).toEqual(['SCOPE_REQUIRED']);
  });
});
