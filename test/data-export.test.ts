import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent, PROFILE, publishPolicy, purposeOf, subjectIdByEmail, type Subject } from './kit/scenario';

/** GDPR Art. 15 and 20: one JSON document with everything privgraph holds about a person, downloadable once. */
describe('data export', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  const REQUESTS = '{ myDataSubjectRequests { id kind status completedAt systems { system status detail } } }';
  /** Each completed request's step details (the export job counts items per system without decrypting). */
  const details = new Map<string, Record<string, string | null>>();
  const LINK = 'query($id: ID!) { dataExportLink(requestId: $id) { url expiresAt } }';

  /** The subject asks for an export and waits until the job has reached every system. */
  async function completedExport(subject: Subject): Promise<string> {
    const opened = await stack.gql<{ requestDataExport: { id: string } }>('mutation { requestDataExport { id kind status } }', {}, { token: subject.token });
    expectNoErrors(opened);
    const id = opened.data!.requestDataExport.id;
    const deadline = Date.now() + 45_000;
    for (;;) {
      const list = await stack.gql<{ myDataSubjectRequests: { id: string; status: string; systems: { system: string; status: string; detail: string | null }[] }[] }>(
        REQUESTS,
        {},
        { token: subject.token },
      );
      expectNoErrors(list);
      const request = list.data!.myDataSubjectRequests.find((r) => r.id === id);
      if (request?.status === 'COMPLETED') {
        expect(request.systems.map((s) => [s.system, s.status]).sort()).toEqual([
          ['audit', 'DONE'],
          ['consent', 'DONE'],
          ['identity', 'DONE'],
          ['pii', 'DONE'],
        ]);
        details.set(id, Object.fromEntries(request.systems.map((step) => [step.system, step.detail])));
        return id;
      }
      if (Date.now() > deadline) throw new Error(`export request still ${request?.status}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async function linkFor(subject: Subject, requestId: string): Promise<{ url: string; expiresAt: string }> {
    const response = await stack.gql<{ dataExportLink: { url: string; expiresAt: string } }>(LINK, { id: requestId }, { token: subject.token });
    expectNoErrors(response);
    return response.data!.dataExportLink;
  }

  /** GET the link on the gateway, with or without a bearer token. */
  async function download(url: string, token?: string) {
    const response = await fetch(new URL(url, stack.running.gateway.url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as any };
  }

  async function downloadedExport(subject: Subject): Promise<any> {
    const { url } = await linkFor(subject, await completedExport(subject));
    const got = await download(url, subject.token);
    expect(got.status).toBe(200);
    return got.body;
  }

  const validate = (() => {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv);
    return ajv.compile(JSON.parse(readFileSync(join(__dirname, '..', 'docs', 'export.schema.json'), 'utf8')));
  })();

  /** What a person can carry to another account (Art. 20): the document without ids, refs, timestamps, receipts and others' accesses. */
  function portable(document: any) {
    const byName = (a: { name?: string; tenantName?: string }, b: { name?: string; tenantName?: string }) =>
      String(a.name ?? a.tenantName).localeCompare(String(b.name ?? b.tenantName));
    return {
      format: document.format,
      status: document.identity.status,
      tenants: document.identity.tenants.map((t: any) => t.tenantName).sort(),
      personalData: document.personalData,
      consents: document.consents
        .filter((c: any) => c.status === 'ACTIVE')
        .map((c: any) => ({ tenantName: c.tenantName, purpose: c.purpose, categories: c.categories, policyVersion: c.policyVersion, collectionMethod: c.collectionMethod }))
        .sort((a: any, b: any) => byName(a, b) || a.purpose.localeCompare(b.purpose)),
      recipients: document.recipients
        .map((r: any) => ({ name: r.name, role: r.role, policy: r.policy && { version: r.policy.version, url: r.policy.url, textHash: r.policy.textHash }, purposes: r.purposes }))
        .sort(byName),
      processor: document.processor,
    };
  }

  test('holds identity, every PII field, consents with verifiable receipts and history, the access log and the recipients; valid against docs/export.schema.json; downloadable once', async () => {
    const books = await createTenant(stack, 'Books & Co');
    const garden = await createTenant(stack, 'Garden Shop');
    await publishPolicy(stack, books, {
      version: 'b1',
      purposes: [{ ...purposeOf('shipping', ['CONTACT', 'ADDRESS']), lawfulBasis: 'CONTRACT', retentionDays: 90 }, purposeOf('newsletter', ['CONTACT'])],
    });
    await publishPolicy(stack, garden, { version: 'g1', purposes: [purposeOf('loyalty', ['IDENTITY', 'CONTACT'])] });
    const profile = { ...PROFILE, email: 'export.alice@example.com', address: { ...PROFILE.address, line2: 'Hinterhaus' } };
    const alice = await createSubject(stack, 'export-alice', profile, [books, garden]);
    const bob = await createSubject(stack, 'export-bob', { email: 'export.bob@example.com' }, [books]);
    const shipping = await grantConsent(stack, alice, { tenantId: books, purpose: 'shipping', categories: ['CONTACT', 'ADDRESS'], policyVersion: 'b1' });
    const newsletter = await grantConsent(stack, alice, { tenantId: books, purpose: 'newsletter', categories: ['CONTACT'], policyVersion: 'b1' });
    const loyalty = await grantConsent(stack, alice, { tenantId: garden, purpose: 'loyalty', categories: ['IDENTITY'], policyVersion: 'g1' });
    expectNoErrors(await stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { id } }', { id: newsletter }, { token: alice.token }));
    // Reads by the shops (one allowed, one refused for scope) and an admin lookup: the access log.
    const booksCms = await stack.tokens.tenant(books, ['pii:contact:read']);
    await stack.gql('query($r: ID!) { user(ref: $r) { email givenName } }', { r: alice.refs[books] }, { token: booksCms, purpose: 'shipping' });
    const gardenCms = await stack.tokens.tenant(garden, ['pii:identity:read']);
    await stack.gql('query($r: ID!) { user(ref: $r) { givenName } }', { r: alice.refs[garden] }, { token: gardenCms, purpose: 'loyalty' });
    const aliceId = await subjectIdByEmail(stack, 'export.alice@example.com');

    const requestId = await completedExport(alice);
    // The job counted what each system holds (the subject and two links, seven fields, three consents, four accesses).
    expect(details.get(requestId)).toEqual({
      identity: 'ready for the export: 3 items',
      pii: 'ready for the export: 7 items',
      consent: 'ready for the export: 3 items',
      audit: 'ready for the export: 4 items',
    });
    // Only the subject, only their own completed request.
    expect(codes(await stack.gql(LINK, { id: requestId }, { token: bob.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await stack.gql(LINK, { id: requestId }, { token: await stack.tokens.tenant(books, ['tenant:admin']) }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(LINK, { id: requestId }, {}))).toEqual(['UNAUTHENTICATED']);
    const link = await linkFor(alice, requestId);
    expect(link.url).toMatch(/^\/privacy\/export\/[\w-]+\.[\w-]+\.[\w-]+$/);
    const ttl = new Date(link.expiresAt).getTime() - stack.clock.now().getTime();
    expect(ttl).toBeGreaterThan(9 * 60_000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
    // The link carries no personal data and no internal id.
    const claims = JSON.parse(Buffer.from(link.url.split('/').at(-1)!.split('.')[1], 'base64url').toString('utf8'));
    expect(Object.keys(claims).sort()).toEqual(['exp', 'iat', 'jti', 'rid', 'sub']);
    expect(JSON.stringify(claims)).not.toContain(aliceId);

    // The link alone is not enough; another account's token is refused; a forged link is unknown.
    expect((await download(link.url)).status).toBe(401);
    const foreign = await download(link.url, bob.token);
    expect(foreign.status).toBe(403);
    expect(foreign.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect((await download(`${link.url.slice(0, -4)}AAAA`, alice.token)).status).toBe(404);

    const got = await download(link.url, alice.token);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toMatch(/^application\/json/);
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename="privgraph-export-${requestId}.json"`);
    const document = got.body;

    const [marked] = await stack.sql<{ downloaded_at: Date | null }>(`SELECT downloaded_at FROM "${stack.schema('identity')}".data_subject_request WHERE id = $1`, [requestId]);
    expect(marked.downloaded_at).not.toBeNull();

    // Once: the same link, or a new one for the same request, is refused.
    const again = await download(link.url, alice.token);
    expect(again.status).toBe(410);
    expect(again.body.errors[0].extensions.code).toBe('EXPORT_ALREADY_DOWNLOADED');
    expect(codes(await stack.gql(LINK, { id: requestId }, { token: alice.token }))).toEqual(['EXPORT_ALREADY_DOWNLOADED']);

    expect(validate(document)).toBe(true);
    expect(validate.errors ?? null).toBeNull();
    // The schema is strict: a wrong type or an unknown section is refused.
    expect(validate({ ...document, personalData: { ...document.personalData, email: 42 } })).toBe(false);
    expect(validate({ ...document, extra: {} })).toBe(false);
    expect(document.format).toBe('privgraph-export/1');
    expect(JSON.stringify(document)).not.toContain(aliceId);
    expect(JSON.stringify(document)).not.toMatch(/export\.bob/);

    // Identity: created, refs per tenant with the tenants' names.
    expect(document.identity.status).toBe('ACTIVE');
    expect(document.identity.tenants.map((t: any) => [t.tenantName, t.ref]).sort()).toEqual(
      [
        ['Books & Co', alice.refs[books]],
        ['Garden Shop', alice.refs[garden]],
      ].sort(),
    );

    // Every PII field, decrypted, and the region.
    expect(document.personalData).toEqual({
      region: 'eu',
      email: 'export.alice@example.com',
      phone: '+49301234567',
      givenName: 'Alice',
      familyName: 'Liddell',
      birthDate: '1990-05-17',
      address: { line1: 'Hauptstraße 1', line2: 'Hinterhaus', city: 'Berlin', postalCode: '10115', country: 'DE' },
      nationalId: 'T22000129',
    });

    // Consents with status, history and receipts that verify against the platform's published keys.
    const consents = new Map(document.consents.map((c: any) => [c.id, c]));
    expect([...consents.keys()].sort()).toEqual([shipping, newsletter, loyalty].sort());
    expect(consents.get(shipping)).toMatchObject({ tenantName: 'Books & Co', purpose: 'shipping', status: 'ACTIVE', categories: ['CONTACT', 'ADDRESS'], policyVersion: 'b1' });
    expect(consents.get(loyalty)).toMatchObject({ tenantName: 'Garden Shop', status: 'ACTIVE', categories: ['IDENTITY'] });
    const withdrawn: any = consents.get(newsletter);
    expect(withdrawn.status).toBe('WITHDRAWN');
    expect(withdrawn.withdrawnAt).not.toBeNull();
    expect(withdrawn.history.map((e: any) => e.type)).toEqual(['GRANTED', 'WITHDRAWN']);
    expect(withdrawn.receipts.map((r: any) => r.kind)).toEqual(['GRANT', 'WITHDRAWAL']);
    const jwks = (await (await fetch(new URL('/.well-known/jwks.json', stack.running.gateway.url))).json()) as JSONWebKeySet;
    const keys = createLocalJWKSet(jwks);
    for (const consent of document.consents) {
      for (const receipt of consent.receipts) {
        const { payload, protectedHeader } = await compactVerify(receipt.jws, keys);
        expect(protectedHeader.typ).toBe('privgraph-consent-receipt+jws');
        const body = JSON.parse(new TextDecoder().decode(payload));
        expect(body.privgraph.consentId).toBe(consent.id);
        expect(body.consentReceiptID).toBe(receipt.id);
        // The receipt names the person by the ref of that shop, never by the internal id.
        expect(body.piiPrincipalId).toBe(alice.refs[consent.tenantId]);
      }
    }

    // The access log: the shops' reads and the admin's lookup; the export's own reads are the subject's, not someone else's.
    const log = document.accessLog.map((e: any) => [e.accessorType, e.tenantName, e.action, e.field, e.purpose, e.decision, e.reason]);
    expect(log).toEqual(
      expect.arrayContaining([
        ['TENANT', 'Books & Co', 'PII_READ', 'User.email', 'shipping', 'ALLOW', 'CONSENT'],
        ['TENANT', 'Books & Co', 'PII_READ', 'User.givenName', 'shipping', 'DENY', 'SCOPE_REQUIRED'],
        ['TENANT', 'Garden Shop', 'PII_READ', 'User.givenName', 'loyalty', 'ALLOW', 'CONSENT'],
        ['PLATFORM_ADMIN', null, 'PII_LOOKUP', 'User.email', 'test-lookup', 'ALLOW', 'ADMIN'],
      ]),
    );
    expect(log).toHaveLength(4);
    expect(document.accessLog.find((e: any) => e.field === 'User.email' && e.action === 'PII_READ').consentId).toBe(shipping);

    // Recipients: each shop with its ref, declared purposes, lawful basis and retention.
    const books_ = document.recipients.find((r: any) => r.tenantId === books);
    expect(books_).toMatchObject({ name: 'Books & Co', ref: alice.refs[books], role: 'CONTROLLER', policy: { version: 'b1' } });
    expect(books_.purposes.map((p: any) => [p.key, p.lawfulBasis, p.retentionDays, p.categories])).toEqual([
      ['shipping', 'CONTRACT', 90, ['CONTACT', 'ADDRESS']],
      ['newsletter', 'CONSENT', 365, ['CONTACT']],
    ]);
    expect(document.recipients.find((r: any) => r.tenantId === garden).purposes.map((p: any) => p.key)).toEqual(['loyalty']);
    expect(document.processor).toEqual({ name: 'privgraph', role: 'PROCESSOR' });

    // Audited: each field read as the subject's own (purpose data_export) and the download itself.
    const admin = await stack.gql(
      `query($f: AuditFilter) { auditEvents(first: 100, filter: $f) { edges { node { action actorType field purpose reason decision } } } }`,
      { f: { action: 'PII_READ', purpose: 'data_export' } },
      { token: await stack.tokens.admin() },
    );
    expectNoErrors(admin);
    const reads = admin.data!.auditEvents.edges.map((e: any) => e.node);
    expect(reads.map((r: any) => r.field).sort()).toEqual(['User.address', 'User.birthDate', 'User.email', 'User.familyName', 'User.givenName', 'User.nationalId', 'User.phone']);
    expect(reads.every((r: any) => r.actorType === 'SUBJECT' && r.reason === 'SELF' && r.decision === 'ALLOW')).toBe(true);
    const downloads = await stack.gql(
      `query($f: AuditFilter) { auditEvents(first: 10, filter: $f) { edges { node { action actorType field reason } } } }`,
      { f: { action: 'DATA_EXPORT_DOWNLOAD' } },
      { token: await stack.tokens.admin() },
    );
    expectNoErrors(downloads);
    expect(downloads.data!.auditEvents.edges.map((e: any) => e.node)).toEqual([{ action: 'DATA_EXPORT_DOWNLOAD', actorType: 'SUBJECT', field: 'DataSubjectRequest.EXPORT', reason: 'SELF' }]);

    // Re-import (Art. 20): the export fed into a fresh account through the public API gives the same portable document.
    const carol = { name: 'export-carol', token: await stack.tokens.subject('export-carol'), refs: {} as Record<string, string> };
    const imported = Object.fromEntries(Object.entries(document.personalData).filter(([, value]) => value !== null));
    expectNoErrors(await stack.gql('mutation($input: ProfileInput!) { updateMyProfile(input: $input) { region } }', { input: imported }, { token: carol.token }));
    for (const tenant of document.identity.tenants) {
      expectNoErrors(await stack.gql('mutation($t: ID!) { connectTenant(tenantId: $t) { ref } }', { t: tenant.tenantId }, { token: carol.token }));
    }
    for (const consent of document.consents.filter((c: any) => c.status === 'ACTIVE')) {
      await grantConsent(stack, carol, { tenantId: consent.tenantId, purpose: consent.purpose, categories: consent.categories, policyVersion: consent.policyVersion });
    }
    const copy = await downloadedExport(carol);
    expect(validate(copy)).toBe(true);
    expect(portable(copy)).toEqual(portable(document));
    // Refs are pairwise: the same shops know the two accounts by different refs.
    expect(copy.identity.tenants.map((t: any) => t.ref)).not.toEqual(expect.arrayContaining(document.identity.tenants.map((t: any) => t.ref)));
  });

  test('a link expires after ten minutes, and a request that is not an own completed export gives no link', async () => {
    const shop = await createTenant(stack, 'Clock Shop');
    const dora = await createSubject(stack, 'export-dora', { email: 'export.dora@example.com' }, [shop]);
    const requestId = await completedExport(dora);
    const link = await linkFor(dora, requestId);
    stack.clock.advance(10 * 60_000 + 1_000);
    const expired = await download(link.url, dora.token);
    expect(expired.status).toBe(410);
    expect(expired.body.errors[0].extensions.code).toBe('EXPORT_LINK_EXPIRED');
    const [unused] = await stack.sql<{ downloaded_at: Date | null }>(`SELECT downloaded_at FROM "${stack.schema('identity')}".data_subject_request WHERE id = $1`, [requestId]);
    expect(unused.downloaded_at).toBeNull();
    // Not used up: a fresh link still works once.
    expect((await download((await linkFor(dora, requestId)).url, dora.token)).status).toBe(200);

    expect(codes(await stack.gql(LINK, { id: '44444444-4444-4444-8444-444444444444' }, { token: dora.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await stack.gql(LINK, { id: 'not-an-id' }, { token: dora.token }))).toEqual(['NOT_FOUND']);
    const erasure = await stack.gql<{ requestErasure: { id: string } }>('mutation { requestErasure { id } }', {}, { token: dora.token });
    expectNoErrors(erasure);
    expect(codes(await stack.gql(LINK, { id: erasure.data!.requestErasure.id }, { token: dora.token }))).toEqual(['NOT_FOUND']);
  });

  test('with the audit log down nothing is sent and the link is not used up; after a restart it works once', async () => {
    const shop = await createTenant(stack, 'Outage Shop');
    const erin = await createSubject(stack, 'export-erin', { email: 'export.erin@example.com', givenName: 'Erin' }, [shop]);
    const requestId = await completedExport(erin);
    const { url } = await linkFor(erin, requestId);
    await stack.running.subgraphs.audit.stop();
    const refused = await download(url, erin.token);
    expect(refused.status).toBe(503);
    expect(refused.body.errors[0].extensions.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(refused.text).not.toMatch(/export\.erin|Erin/);
    const [row] = await stack.sql<{ downloaded_at: Date | null }>(`SELECT downloaded_at FROM "${stack.schema('identity')}".data_subject_request WHERE id = $1`, [requestId]);
    expect(row.downloaded_at).toBeNull();

    await stack.halt();
    stack = await startTestStack({ reuse: stack.reuse });
    const got = await download(url, erin.token);
    expect(got.status).toBe(200);
    expect(got.body.personalData).toMatchObject({ email: 'export.erin@example.com', givenName: 'Erin' });
    expect((await download(url, erin.token)).status).toBe(410);
  });
});
