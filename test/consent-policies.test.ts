import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { startTestStack, TestClock, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, currentPolicy, expectNoErrors, PROFILE, publishPolicy, purposeOf, type Subject } from './kit/scenario';

/** Purposes and policy versions per tenant, the consent lifecycle against them, and signed consent receipts. */
describe('purposes, policy versions and consent receipts', () => {
  let stack: TestStack;
  const clock = new TestClock();
  beforeAll(async () => {
    stack = await startTestStack({ clock });
  });
  afterAll(() => stack?.stop());

  const GRANT = 'mutation($i: GrantConsentInput!) { grantConsent(input: $i) { id status categories policyVersion receipts { id kind jws } } }';
  const grant = (subject: Subject, input: Record<string, unknown>) => stack.gql(GRANT, { i: input }, { token: subject.token });
  const withdraw = (subject: Subject, id: string) =>
    stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { status receipts { id kind jws } } }', { id }, { token: subject.token });
  const tenantAdmin = (tenantId: string) => stack.tokens.tenant(tenantId, ['tenant:admin']);
  const count = async (table: string, tenantId: string) =>
    (await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.consent}".${table} WHERE tenant_id = $1`, [tenantId]))[0].n;
  const PUBLISH = 'mutation($i: PublishPolicyVersionInput!) { publishPolicyVersion(input: $i) { version } }';
  const policyInput = (overrides: Record<string, unknown> = {}) => ({
    version: 'v1',
    url: 'https://shop.example/privacy',
    textHash: 'a'.repeat(64),
    purposes: [purposeOf('order_fulfillment', ['CONTACT', 'ADDRESS'])],
    ...overrides,
  });

  test('a tenant admin publishes policy versions; everyone signed in reads the one in force; it is audited as POLICY_PUBLISH', async () => {
    const shop = await createTenant(stack, 'Policy Shop');
    expect(await currentPolicy(stack, shop)).toBeNull();
    const published = await stack.gql(PUBLISH, { i: policyInput({ textHash: 'A'.repeat(64) }) }, { token: await tenantAdmin(shop) });
    expectNoErrors(published);
    const subject = await createSubject(stack, 'reader', { email: 'reader@example.com' }, [shop]);
    const seen = await stack.gql(
      'query($t: ID!) { tenantPolicy(tenantId: $t) { tenantId version url textHash purposes { key description categories lawfulBasis retentionDays } } }',
      { t: shop },
      { token: subject.token },
    );
    expect(seen.data?.tenantPolicy).toEqual({
      tenantId: shop,
      version: 'v1',
      url: 'https://shop.example/privacy',
      textHash: 'a'.repeat(64),
      purposes: [{ key: 'order_fulfillment', description: 'We use your data for order fulfillment.', categories: ['CONTACT', 'ADDRESS'], lawfulBasis: 'CONSENT', retentionDays: 365 }],
    });
    const listed = await stack.gql('{ policyVersions { version } }', {}, { token: await tenantAdmin(shop) });
    expect(listed.data?.policyVersions).toEqual([{ version: 'v1' }]);
    const events = await auditEvents(stack, await stack.tokens.admin(), { action: 'POLICY_PUBLISH', tenantId: shop });
    expect(events.map((e) => [e.field, e.tenantId, e.reason])).toEqual([['PolicyVersion.v1', shop, 'TENANT']]);
    expect(codes(await stack.gql('query($t: ID!) { tenantPolicy(tenantId: $t) { version } }', { t: shop }))).toEqual(['UNAUTHENTICATED']);
  });

  test('publishing is refused for the wrong principal and for bad input, and a refusal writes nothing', async () => {
    const shop = await createTenant(stack, 'Strict Policy Shop');
    const other = await createTenant(stack, 'Other Policy Shop');
    const subject = await createSubject(stack, 'not-admin', { email: 'not-admin@example.com' }, [shop]);
    const publishAs = (token: string, overrides: Record<string, unknown> = {}) => stack.gql(PUBLISH, { i: policyInput(overrides) }, { token });
    expect(codes(await publishAs(await stack.tokens.tenant(shop, [])))).toEqual(['SCOPE_REQUIRED']);
    expect(codes(await publishAs(subject.token))).toEqual(['FORBIDDEN']);
    expect(codes(await publishAs(await stack.tokens.admin()))).toEqual(['FORBIDDEN']);
    const admin = await tenantAdmin(shop);
    const refusals: [Record<string, unknown>, string][] = [
      [{ purposes: [purposeOf('Order Fulfillment!', ['CONTACT'])] }, 'input.purposes[0].key'],
      [{ purposes: [purposeOf('crm; DROP TABLE consent', ['CONTACT'])] }, 'input.purposes[0].key'],
      [{ purposes: [purposeOf('crm', ['CONTACT']), purposeOf('crm', ['ADDRESS'])] }, 'input.purposes[1].key'],
      [{ purposes: [] }, 'input.purposes'],
      [{ purposes: [purposeOf('crm', [])] }, 'input.purposes[0].categories'],
      [{ purposes: [{ ...purposeOf('crm', ['CONTACT']), retentionDays: 0 }] }, 'input.purposes[0].retentionDays'],
      [{ purposes: [{ ...purposeOf('crm', ['CONTACT']), description: ' ' }] }, 'input.purposes[0].description'],
      [{ textHash: 'not-a-hash' }, 'input.textHash'],
      [{ url: 'javascript:alert(1)' }, 'input.url'],
      [{ version: 'v 1' }, 'input.version'],
      [{ effectiveAt: '2001-01-01T00:00:00Z' }, 'input.effectiveAt'],
    ];
    for (const [overrides, field] of refusals) {
      const response = await publishAs(admin, overrides);
      expect(response.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect(await count('policy_version', shop)).toBe(0);
    expect(await auditEvents(stack, await stack.tokens.admin(), { action: 'POLICY_PUBLISH', tenantId: shop })).toEqual([]);

    expectNoErrors(await publishAs(admin, { purposes: [{ ...purposeOf('crm', ['CONTACT']), retentionDays: 1234 }] }));
    const again = await publishAs(admin, { url: 'https://shop.example/other' });
    expect(again.errors?.[0].extensions).toMatchObject({ code: 'ALREADY_EXISTS', field: 'input.version' });
    expect(await count('policy_version', shop)).toBe(1);
    expect((await currentPolicy(stack, shop))?.purposes[0].retentionDays).toBe(1234);
    // Another tenant's admin lists only its own versions and cannot publish for this one.
    const foreign = await stack.gql('{ policyVersions { version } }', {}, { token: await tenantAdmin(other) });
    expect(foreign.data?.policyVersions).toEqual([]);
    await expect(stack.sql(`UPDATE "${stack.schemas.consent}".policy_version SET url = 'https://evil.example' WHERE tenant_id = $1`, [shop])).rejects.toThrow(
      /append-only/,
    );
  });

  test('a grant must name the version in force and a purpose it declares; categories default to the purpose’s and never exceed them', async () => {
    const shop = await createTenant(stack, 'Granting Shop');
    const subject = await createSubject(stack, 'granter', { email: 'granter@example.com' }, [shop]);
    const input = { tenantId: shop, purpose: 'order_fulfillment', policyVersion: 'v1' };
    expect((await grant(subject, input)).errors?.[0].extensions).toMatchObject({ code: 'PURPOSE_NOT_PUBLISHED', field: 'input.purpose' });
    await publishPolicy(stack, shop, { version: 'v1', purposes: [purposeOf('order_fulfillment', ['CONTACT', 'ADDRESS'])] });
    expect((await grant(subject, { ...input, purpose: 'marketing' })).errors?.[0].extensions).toMatchObject({ code: 'PURPOSE_NOT_PUBLISHED' });
    expect((await grant(subject, { ...input, purpose: 'Marketing!' })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.purpose' });
    expect(codes(await grant(subject, { ...input, policyVersion: 'v9' }))).toEqual(['NOT_FOUND']);
    expect((await grant(subject, { ...input, categories: ['CONTACT', 'GOVERNMENT_ID'] })).errors?.[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.categories',
    });
    expect((await grant(subject, { ...input, collectionMethod: 'web<script>' })).errors?.[0].extensions).toMatchObject({ field: 'input.collectionMethod' });
    const unconnected = await createSubject(stack, 'unconnected', { email: 'unconnected@example.com' }, []);
    expect((await grant(unconnected, input)).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.tenantId' });
    expect(await count('consent', shop)).toBe(0);
    expect(await count('consent_receipt', shop)).toBe(0);

    const granted = await grant(subject, input);
    expectNoErrors(granted);
    expect(granted.data?.grantConsent).toMatchObject({ status: 'ACTIVE', categories: ['CONTACT', 'ADDRESS'], policyVersion: 'v1' });

    // A new version takes over: v1 is outdated for new grants, the existing consent stays active.
    await publishPolicy(stack, shop, { version: 'v2', purposes: [purposeOf('order_fulfillment', ['CONTACT', 'ADDRESS'])] });
    expect((await grant(subject, { ...input, categories: ['CONTACT'] })).errors?.[0].extensions).toMatchObject({
      code: 'POLICY_VERSION_OUTDATED',
      field: 'input.policyVersion',
    });
    const mine = await stack.gql('{ me { consents { status policyVersion } } }', {}, { token: subject.token });
    expect(mine.data?.me.consents).toEqual([{ status: 'ACTIVE', policyVersion: 'v1' }]);
  });

  test('the same grant twice is refused with ALREADY_EXISTS and leaves no trace; a changed grant supersedes; re-granting after withdrawal works', async () => {
    const shop = await createTenant(stack, 'Duplicate Shop');
    const subject = await createSubject(stack, 'twice', { email: 'twice@example.com' }, [shop]);
    await publishPolicy(stack, shop, { version: 'v1', purposes: [purposeOf('crm', ['CONTACT', 'IDENTITY'])] });
    const input = { tenantId: shop, purpose: 'crm', policyVersion: 'v1', categories: ['CONTACT'] };
    const first = await grant(subject, input);
    expectNoErrors(first);
    const grantsBefore = (await auditEvents(stack, await stack.tokens.admin(), { action: 'CONSENT_GRANT', tenantId: shop })).length;
    expect(codes(await grant(subject, input))).toEqual(['ALREADY_EXISTS']);
    expect(codes(await grant(subject, { ...input, categories: ['CONTACT', 'CONTACT'] }))).toEqual(['ALREADY_EXISTS']);
    expect(await count('consent', shop)).toBe(1);
    expect(await count('consent_receipt', shop)).toBe(1);
    expect(await auditEvents(stack, await stack.tokens.admin(), { action: 'CONSENT_GRANT', tenantId: shop })).toHaveLength(grantsBefore);

    const widened = await grant(subject, { ...input, categories: ['CONTACT', 'IDENTITY'] });
    expectNoErrors(widened);
    const withdrawn = await withdraw(subject, widened.data?.grantConsent.id);
    expect(withdrawn.data?.withdrawConsent.status).toBe('WITHDRAWN');
    const regranted = await grant(subject, input);
    expectNoErrors(regranted);
    const history = await stack.gql('{ me { consentHistory { type consentId } } }', {}, { token: subject.token });
    expect(history.data?.me.consentHistory.map((e: { type: string }) => e.type)).toEqual(['GRANTED', 'SUPERSEDED', 'GRANTED', 'WITHDRAWN', 'GRANTED']);
  });

  test('a new version that widens a purpose does not widen existing consents: the subject has to grant again', async () => {
    const shop = await createTenant(stack, 'Widening Shop');
    const subject = await createSubject(stack, 'widened', PROFILE, [shop]);
    await publishPolicy(stack, shop, { version: 'v1', purposes: [purposeOf('delivery', ['CONTACT'])] });
    expectNoErrors(await grant(subject, { tenantId: shop, purpose: 'delivery', policyVersion: 'v1' }));
    await publishPolicy(stack, shop, { version: 'v2', purposes: [purposeOf('delivery', ['CONTACT', 'ADDRESS'])] });
    const token = await stack.tokens.tenant(shop, ['pii:contact:read', 'pii:address:read']);
    const read = () => stack.gql('query($r: ID!) { user(ref: $r) { email address { city } } }', { r: subject.refs[shop] }, { token, purpose: 'delivery' });
    const before = await read();
    expect(before.data?.user).toEqual({ email: PROFILE.email, address: null });
    expect(codes(before)).toEqual(['CONSENT_REQUIRED']);
    expectNoErrors(await grant(subject, { tenantId: shop, purpose: 'delivery', policyVersion: 'v2' }));
    const after = await read();
    expectNoErrors(after);
    expect(after.data?.user).toEqual({ email: PROFILE.email, address: { city: 'Berlin' } });
  });

  test('a version scheduled for later takes over at its effective time', async () => {
    const shop = await createTenant(stack, 'Scheduled Shop');
    const subject = await createSubject(stack, 'scheduled', { email: 'scheduled@example.com' }, [shop]);
    await publishPolicy(stack, shop, { version: 'v1', purposes: [purposeOf('crm', ['CONTACT'])] });
    const effectiveAt = new Date(clock.now().getTime() + 3_600_000).toISOString();
    await publishPolicy(stack, shop, { version: 'v2', purposes: [purposeOf('crm', ['CONTACT'])], effectiveAt });
    expect((await currentPolicy(stack, shop))?.version).toBe('v1');
    expect(codes(await grant(subject, { tenantId: shop, purpose: 'crm', policyVersion: 'v2' }))).toEqual(['POLICY_VERSION_OUTDATED']);
    const earlier = await stack.gql(PUBLISH, { i: policyInput({ version: 'v3', effectiveAt: new Date(clock.now().getTime() + 60_000).toISOString() }) }, { token: await tenantAdmin(shop) });
    expect(earlier.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.effectiveAt' });
    clock.advance(3_600_000);
    expect((await currentPolicy(stack, shop))?.version).toBe('v2');
    expect(codes(await grant(subject, { tenantId: shop, purpose: 'crm', policyVersion: 'v1' }))).toEqual(['POLICY_VERSION_OUTDATED']);
    expectNoErrors(await grant(subject, { tenantId: shop, purpose: 'crm', policyVersion: 'v2' }));
  });

  describe('signed consent receipts', () => {
    let shop: string;
    let subject: Subject;
    let keys: ReturnType<typeof createLocalJWKSet>;
    beforeAll(async () => {
      shop = await createTenant(stack, 'Receipt Shop');
      subject = await createSubject(stack, 'receipt-holder', { email: 'receipt-holder@example.com' }, [shop]);
      await publishPolicy(stack, shop, {
        version: '2026-11',
        url: 'https://receipt-shop.example/privacy/2026-11',
        textHash: 'b'.repeat(64),
        purposes: [{ key: 'newsletter', description: 'Our monthly newsletter', categories: ['CONTACT'], lawfulBasis: 'CONSENT', retentionDays: 730 }],
      });
      // Any client can fetch the public keys from the gateway and verify offline with a stock JOSE library.
      const jwks = (await (await fetch(`${stack.running.gateway.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      keys = createLocalJWKSet(jwks);
    });

    const payloadOf = async (jws: string) => {
      const { payload, protectedHeader } = await compactVerify(jws, keys);
      expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'privgraph-consent-receipt+jws' });
      return JSON.parse(new TextDecoder().decode(payload));
    };

    test('grant and withdrawal each yield a Kantara v1.1 receipt that verifies with the published JWKS', async () => {
      const expiresAt = new Date(clock.now().getTime() + 86_400_000).toISOString();
      const granted = await grant(subject, { tenantId: shop, purpose: 'newsletter', policyVersion: '2026-11', expiresAt, collectionMethod: 'web-form' });
      expectNoErrors(granted);
      const consent = granted.data?.grantConsent;
      expect(consent.receipts).toHaveLength(1);
      const receipt = await payloadOf(consent.receipts[0].jws);
      expect(receipt).toMatchObject({
        version: 'KI-CR-v1.1.0',
        jurisdiction: 'EU',
        collectionMethod: 'web-form',
        consentReceiptID: consent.receipts[0].id,
        language: 'en',
        piiPrincipalId: subject.refs[shop],
        piiControllers: [{ piiController: 'Receipt Shop', onBehalf: false }],
        policyUrl: 'https://receipt-shop.example/privacy/2026-11',
        services: [
          {
            service: 'Receipt Shop',
            purposes: [{ purpose: 'Our monthly newsletter', purposeCategory: ['newsletter'], consentType: 'EXPLICIT', piiCategory: ['CONTACT'], primaryPurpose: true }],
          },
        ],
        sensitive: false,
        privgraph: { event: 'GRANT', consentId: consent.id, tenantId: shop, policyVersion: '2026-11', policyTextHash: 'b'.repeat(64), expiresAt, withdrawnAt: null },
      });
      expect(receipt.services[0].purposes[0].termination).toContain(expiresAt);
      expect(Math.abs(receipt.consentTimestamp * 1000 - clock.now().getTime())).toBeLessThan(5000);
      // Pseudonymous: neither the email nor the internal subject id is in it.
      const subjectId = (await stack.sql<{ subject_id: string }>(`SELECT subject_id FROM "${stack.schemas.consent}".consent WHERE id = $1`, [consent.id]))[0].subject_id;
      expect(JSON.stringify(receipt)).not.toContain('receipt-holder@example.com');
      expect(JSON.stringify(receipt)).not.toContain(subjectId);

      const withdrawn = await withdraw(subject, consent.id);
      expect(withdrawn.data?.withdrawConsent.receipts.map((r: { kind: string }) => r.kind)).toEqual(['GRANT', 'WITHDRAWAL']);
      const withdrawal = await payloadOf(withdrawn.data?.withdrawConsent.receipts[1].jws);
      expect(withdrawal.privgraph).toMatchObject({ event: 'WITHDRAWAL', consentId: consent.id, withdrawnAt: expect.any(String) });
      // Withdrawing again issues no second withdrawal receipt.
      const again = await withdraw(subject, consent.id);
      expect(again.data?.withdrawConsent.receipts).toHaveLength(2);
    });

    test('a modified receipt fails verification', async () => {
      const granted = await grant(subject, { tenantId: shop, purpose: 'newsletter', policyVersion: '2026-11' });
      expectNoErrors(granted);
      const jws: string = granted.data?.grantConsent.receipts[0].jws;
      const [header, payload, signature] = jws.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      claims.services[0].purposes[0].piiCategory = ['CONTACT', 'GOVERNMENT_ID'];
      const forged = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
      await expect(compactVerify(forged, keys)).rejects.toThrow(/signature verification failed/);
      expect(decodeProtectedHeader(forged).kid).toBe(decodeProtectedHeader(jws).kid);
      await expect(stack.sql(`UPDATE "${stack.schemas.consent}".consent_receipt SET jws = $1 WHERE consent_id = $2`, [forged, granted.data?.grantConsent.id])).rejects.toThrow(
        /append-only/,
      );
    });

    test('consentReceipt(id): the subject’s own and the tenant’s own; anyone else gets NOT_FOUND', async () => {
      const expiresAt = new Date(clock.now().getTime() + 7 * 86_400_000).toISOString();
      const granted = await grant(subject, { tenantId: shop, purpose: 'newsletter', policyVersion: '2026-11', collectionMethod: 'mobile-app', expiresAt });
      expectNoErrors(granted);
      const already = granted.data?.grantConsent;
      const receiptId: string = already?.receipts[0].id;
      expect(receiptId).toBeDefined();
      const fetchAs = (token: string, id = receiptId) => stack.gql('query($id: ID!) { consentReceipt(id: $id) { id consentId kind jws } }', { id }, { token });
      const own = await fetchAs(subject.token);
      expect(own.data?.consentReceipt).toMatchObject({ id: receiptId, consentId: already.id, kind: 'GRANT' });
      expect((await fetchAs(await stack.tokens.tenant(shop, []))).data?.consentReceipt.id).toBe(receiptId);
      const other = await createTenant(stack, 'Nosy Receipt Shop');
      const stranger = await createSubject(stack, 'receipt-stranger', { email: 'receipt-stranger@example.com' }, [shop]);
      expect(codes(await fetchAs(stranger.token))).toEqual(['NOT_FOUND']);
      expect(codes(await fetchAs(await stack.tokens.tenant(other, ['tenant:admin'])))).toEqual(['NOT_FOUND']);
      expect(codes(await fetchAs(await stack.tokens.admin()))).toEqual(['NOT_FOUND']);
      expect(codes(await fetchAs(subject.token, 'not-a-uuid'))).toEqual(['NOT_FOUND']);
      expect(codes(await stack.gql('query($id: ID!) { consentReceipt(id: $id) { id } }', { id: receiptId }))).toEqual(['UNAUTHENTICATED']);
    });
  });
});
