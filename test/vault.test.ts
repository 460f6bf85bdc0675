import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent, policyVersionFor, PROFILE, publishPolicy, purposeOf } from './kit/scenario';

/** The vault: no plaintext at rest, ciphertexts bound to their subject and field, bad input never half-written. */
describe('PII vault', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  const PROFILE_QUERY = '{ me { email phone givenName familyName birthDate address { line1 line2 city postalCode country } nationalId } }';

  test('a raw scan of every pii table finds no plaintext of stored values', async () => {
    const canary = { ...PROFILE, email: 'canary.7f3a@example.com', givenName: 'Zebediah', familyName: 'Quillfeather' };
    const subject = await createSubject(stack, 'canary', canary, []);
    const mine = await stack.gql(PROFILE_QUERY, {}, { token: subject.token });
    expect(mine.data?.me).toMatchObject({ email: canary.email, givenName: 'Zebediah', familyName: 'Quillfeather' });

    const tables = await stack.sql<{ table_schema: string; table_name: string }>(
      `SELECT table_schema, table_name FROM information_schema.tables WHERE starts_with(table_schema, $1) AND table_type = 'BASE TABLE'`,
      [stack.schema('')],
    );
    // Every table of every service, the region stores included.
    expect(tables.map((t) => `${t.table_schema.slice(stack.schema('').length)}.${t.table_name}`)).toEqual(
      expect.arrayContaining(['pii_eu.pii_field', 'pii_eu.blind_index', 'pii_eu_keys.data_key', 'pii.subject_placement', 'audit.audit_event']),
    );
    for (const { table_schema, table_name } of tables) {
      const rows = await stack.sql<{ dump: string }>(`SELECT t::text AS dump FROM "${table_schema}"."${table_name}" t`);
      const text = rows.map((r) => r.dump).join('\n');
      const hex = rows.map((r) => r.dump).join('').toLowerCase();
      for (const value of [canary.email, 'Zebediah', 'Quillfeather', canary.nationalId, '+49301234567', 'Hauptstraße']) {
        expect(text).not.toContain(value);
        expect(hex).not.toContain(Buffer.from(value).toString('hex'));
      }
    }
  });

  test('a ciphertext copied onto another subject does not decrypt (AAD binds subject and field)', async () => {
    const victim = await createSubject(stack, 'victim', { email: 'victim@example.com' }, []);
    const thief = await createSubject(stack, 'thief', { email: 'thief@example.com', phone: '+4930999999' }, []);
    const field = `"${stack.schema('pii_eu')}".pii_field`;
    const subjectTable = `"${stack.schemas.identity}".subject`;
    await stack.sql(
      `UPDATE ${field} SET ciphertext = (SELECT f.ciphertext FROM ${field} f JOIN ${subjectTable} s ON s.id = f.subject_id WHERE s.sub = 'victim' AND f.field = 'email')
        WHERE field = 'email' AND subject_id = (SELECT id FROM ${subjectTable} WHERE sub = 'thief')`,
    );
    const response = await stack.gql('{ me { email phone } }', {}, { token: thief.token });
    expect(response.data?.me).toEqual({ email: null, phone: '+4930999999' });
    expect(codes(response)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(JSON.stringify(response)).not.toContain('victim@example.com');
    const victimView = await stack.gql('{ me { email } }', {}, { token: victim.token });
    expect(victimView.data?.me.email).toBe('victim@example.com');
  });

  test.each([
    [{ email: 'not-an-email' }, 'input.email'],
    [{ phone: '12345' }, 'input.phone'],
    [{ phone: '+49 30' }, 'input.phone'],
    [{ birthDate: '2999-01-01' }, 'input.birthDate'],
    [{ address: { line1: 'Street 1', city: 'Nowhere', postalCode: '12345', country: 'XX' } }, 'input.address.country'],
    [{ address: { line1: 'Street 1', city: 'Nowhere', postalCode: '12345', country: 'Germany' } }, 'input.address.country'],
    [{ givenName: '' }, 'input.givenName'],
    [{ givenName: 'x'.repeat(101) }, 'input.givenName'],
    [{ nationalId: '<script>' }, 'input.nationalId'],
  ])('invalid input %j is BAD_USER_INPUT on %s and writes nothing', async (input, field) => {
    const token = await stack.tokens.subject('validator');
    const seeded = await stack.gql('mutation($i: ProfileInput!) { updateMyProfile(input: $i) { email } }', { i: PROFILE }, { token });
    expectNoErrors(seeded);
    // A valid field next to the invalid one must not be written either.
    const response = await stack.gql('mutation($i: ProfileInput!) { updateMyProfile(input: $i) { email } }', { i: { ...input, familyName: 'Changed' } }, { token });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0].extensions?.field).toBe(field);
    expect(JSON.stringify(response.errors)).not.toMatch(/not-an-email|Germany|<script>|Changed/);
    const after = await stack.gql('{ me { email familyName phone address { country } } }', {}, { token });
    expect(after.data?.me).toEqual({ email: PROFILE.email, familyName: PROFILE.familyName, phone: '+49301234567', address: { country: 'DE' } });
  });

  test('an empty update is BAD_USER_INPUT', async () => {
    const token = await stack.tokens.subject('empty');
    const response = await stack.gql('mutation { updateMyProfile(input: {}) { email } }', {}, { token });
    expect(response.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input', serviceName: 'pii' });
  });

  test('an impossible calendar date is rejected before execution', async () => {
    const token = await stack.tokens.subject('dates');
    const response = await stack.gql('mutation($i: ProfileInput!) { updateMyProfile(input: $i) { birthDate } }', { i: { birthDate: '1990-02-30' } }, { token });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
  });

  test('null erases a field; omitted fields stay as they were', async () => {
    const subject = await createSubject(stack, 'eraser', PROFILE, []);
    const response = await stack.gql('mutation { updateMyProfile(input: { phone: null, givenName: "Alicia" }) { email phone givenName } }', {}, { token: subject.token });
    expectNoErrors(response);
    expect(response.data?.updateMyProfile).toEqual({ email: PROFILE.email, phone: null, givenName: 'Alicia' });
  });

  test('connectTenant is idempotent and refs differ per tenant', async () => {
    const a = await createTenant(stack, 'Ref Shop A');
    const b = await createTenant(stack, 'Ref Shop B');
    const subject = await createSubject(stack, 'refs', { email: 'refs@example.com' }, [a, b]);
    const again = await stack.gql('mutation($t: ID!) { connectTenant(tenantId: $t) { ref } }', { t: a }, { token: subject.token });
    expect(again.data?.connectTenant.ref).toBe(subject.refs[a]);
    expect(subject.refs[a]).not.toBe(subject.refs[b]);
    expect(subject.refs[a]).toMatch(/^usr_[A-Za-z0-9_-]{27}$/);
    const unknown = await stack.gql('mutation { connectTenant(tenantId: "00000000-0000-4000-8000-000000000000") { ref } }', {}, { token: subject.token });
    expect(codes(unknown)).toEqual(['NOT_FOUND']);
    const malformed = await stack.gql('mutation { connectTenant(tenantId: "1; DROP TABLE x") { ref } }', {}, { token: subject.token });
    expect(codes(malformed)).toEqual(['BAD_USER_INPUT']);
  });

  test('concurrent grants: identical ones are granted once, distinct ones each supersede the one before', async () => {
    const shop = await createTenant(stack, 'Busy Shop');
    const subject = await createSubject(stack, 'busy', { email: 'busy@example.com' }, [shop]);
    const version = await policyVersionFor(stack, shop, 'crm', ['CONTACT']);
    const grant = (expiresAt?: string) =>
      stack.gql('mutation($i: GrantConsentInput!) { grantConsent(input: $i) { id } }', { i: { tenantId: shop, purpose: 'crm', categories: ['CONTACT'], policyVersion: version, expiresAt } }, { token: subject.token });
    const identical = await Promise.all(Array.from({ length: 6 }, () => grant()));
    expect(identical.flatMap((g) => codes(g)).sort()).toEqual(Array(5).fill('ALREADY_EXISTS'));
    const distinct = await Promise.all(Array.from({ length: 6 }, (_, i) => grant(`2099-01-0${i + 1}T00:00:00Z`)));
    expect(distinct.flatMap((g) => codes(g))).toEqual([]);
    const mine = await stack.gql('{ me { consents { status } } }', {}, { token: subject.token });
    const statuses = mine.data?.me.consents.map((c: { status: string }) => c.status);
    expect(statuses.filter((s: string) => s === 'ACTIVE')).toHaveLength(1);
    expect(statuses.filter((s: string) => s === 'SUPERSEDED')).toHaveLength(6);
  });

  test('consent input is validated', async () => {
    const shop = await createTenant(stack, 'Consent Shop');
    const subject = await createSubject(stack, 'consenter', { email: 'c@example.com' }, [shop]);
    await publishPolicy(stack, shop, { version: 'v1', purposes: [purposeOf('crm', ['CONTACT', 'IDENTITY'])] });
    const grant = (input: Record<string, unknown>) =>
      stack.gql('mutation($i: GrantConsentInput!) { grantConsent(input: $i) { id } }', { i: { tenantId: shop, purpose: 'crm', categories: ['CONTACT'], policyVersion: 'v1', ...input } }, { token: subject.token });
    expect((await grant({ purpose: 'Not A Key!' })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.purpose' });
    expect((await grant({ categories: [] })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.categories' });
    expect((await grant({ expiresAt: '2001-01-01T00:00:00Z' })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.expiresAt' });
    expect(codes(await grant({ tenantId: '00000000-0000-4000-8000-000000000000' }))).toEqual(['NOT_FOUND']);
    const consents = await stack.sql(`SELECT id FROM "${stack.schemas.consent}".consent WHERE tenant_id = $1`, [shop]);
    expect(consents).toHaveLength(0);

    const first = await grantConsent(stack, subject, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
    const second = await grantConsent(stack, subject, { tenantId: shop, purpose: 'crm', categories: ['CONTACT', 'IDENTITY'] });
    const mine = await stack.gql('{ me { consents { id status categories } } }', {}, { token: subject.token });
    expect(mine.data?.me.consents).toEqual(
      expect.arrayContaining([
        { id: first, status: 'SUPERSEDED', categories: ['CONTACT'] },
        { id: second, status: 'ACTIVE', categories: ['CONTACT', 'IDENTITY'] },
      ]),
    );
    const stranger = await stack.tokens.subject('stranger');
    expect(codes(await stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { id } }', { id: second }, { token: stranger }))).toEqual(['NOT_FOUND']);
    const history = await stack.sql<{ type: string }>(`SELECT type FROM "${stack.schemas.consent}".consent_event WHERE tenant_id = $1 ORDER BY id`, [shop]);
    expect(history.map((h) => h.type)).toEqual(['GRANTED', 'SUPERSEDED', 'GRANTED']);
    await expect(stack.sql(`DELETE FROM "${stack.schemas.consent}".consent_event`)).rejects.toThrow(/append-only/);
  });
});
