import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, PROFILE, rowsContaining, subjectIdByEmail } from './kit/scenario';

/** Residency (architecture invariant 7): a subject's PII is written only to the store of its region. */
describe('PII regions', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack({ env: { PII_REGIONS: 'eu,us', PII_COUNTRY_REGIONS: 'CA=us' } });
  });
  afterAll(() => stack?.stop());

  const US_ADDRESS = { line1: '1 Main St', city: 'Springfield', postalCode: '62701', country: 'US' };
  const update = 'mutation($i: ProfileInput!) { updateMyProfile(input: $i) { region email } }';

  test('an EU subject lives only in the EU store: the US store holds no row, ciphertext, index entry or key of theirs', async () => {
    const eu = await createSubject(stack, 'resident-eu', { ...PROFILE, email: 'resident.eu@example.com' }, []);
    const us = await createSubject(stack, 'resident-us', { ...PROFILE, email: 'resident.us@example.com', address: US_ADDRESS }, []);
    expect((await stack.gql('{ me { region } }', {}, { token: eu.token })).data?.me.region).toBe('eu');
    expect((await stack.gql('{ me { region } }', {}, { token: us.token })).data?.me.region).toBe('us');

    const euId = await subjectIdByEmail(stack, 'resident.eu@example.com');
    const usId = await subjectIdByEmail(stack, 'resident.us@example.com');
    expect(await rowsContaining(stack, [euId, 'resident.eu@example.com'], ['pii_us', 'pii_us_keys'])).toEqual([]);
    expect(await rowsContaining(stack, [usId, 'resident.us@example.com'], ['pii_eu', 'pii_eu_keys'])).toEqual([]);
    // Each store does hold its own subject: field rows, index entries and a data key.
    const count = async (schema: string, table: string, id: string) =>
      (await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schema(schema)}".${table} WHERE subject_id = $1`, [id]))[0].n;
    expect(await count('pii_eu', 'pii_field', euId)).toBe(7);
    expect(await count('pii_eu', 'blind_index', euId)).toBe(2);
    expect(await count('pii_eu_keys', 'data_key', euId)).toBe(1);
    expect(await count('pii_us', 'pii_field', usId)).toBe(7);
    expect(await count('pii_us_keys', 'data_key', usId)).toBe(1);
  });

  test('an explicit region wins over the country; the country table can be extended; without either the default region is used', async () => {
    const explicit = await stack.tokens.subject('explicit-us');
    expect((await stack.gql(update, { i: { region: 'us', address: PROFILE.address } }, { token: explicit })).data?.updateMyProfile.region).toBe('us');
    const canada = await stack.tokens.subject('canada');
    expect((await stack.gql(update, { i: { address: { ...US_ADDRESS, country: 'CA', postalCode: 'K1A 0B1' } } }, { token: canada })).data?.updateMyProfile.region).toBe('us');
    const plain = await stack.tokens.subject('no-address');
    expect((await stack.gql(update, { i: { givenName: 'Nomad' } }, { token: plain })).data?.updateMyProfile.region).toBe('eu');
  });

  test.each([
    [{ region: 'apac', email: 'x@example.com' }, 'input.region'],
    [{ address: { line1: '1-1 Chiyoda', city: 'Tokyo', postalCode: '100-0001', country: 'JP' }, email: 'x@example.com' }, 'input.address.country'],
  ])('%j is REGION_UNSUPPORTED on %s and stores nothing', async (input, field) => {
    const token = await stack.tokens.subject(`unsupported-${field}`);
    const response = await stack.gql(update, { i: input }, { token });
    expect(codes(response)).toEqual(['REGION_UNSUPPORTED']);
    expect(response.errors?.[0].extensions?.field).toBe(field);
    expect((await stack.gql('{ me { region email } }', {}, { token })).data?.me).toEqual({ region: null, email: null });
    expect(await rowsContaining(stack, ['x@example.com'])).toEqual([]);
  });

  test('a malformed region is BAD_USER_INPUT', async () => {
    const token = await stack.tokens.subject('malformed-region');
    const response = await stack.gql(update, { i: { region: 'EU; drop', email: 'm@example.com' } }, { token });
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
  });

  test('the region is fixed after the first write: asking for another is refused, a new address does not move it', async () => {
    const subject = await createSubject(stack, 'fixed', { email: 'fixed@example.com', address: PROFILE.address }, []);
    const refused = await stack.gql(update, { i: { region: 'us', email: 'changed@example.com' } }, { token: subject.token });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors?.[0].extensions?.field).toBe('input.region');
    const moved = await stack.gql(update, { i: { address: US_ADDRESS } }, { token: subject.token });
    expect(moved.data?.updateMyProfile).toEqual({ region: 'eu', email: 'fixed@example.com' });
  });

  test('a platform admin moves a subject: copied to the new region, erased from the old, audited; others are refused', async () => {
    const shop = await createTenant(stack, 'Mover Shop');
    const subject = await createSubject(stack, 'mover', { ...PROFILE, email: 'mover@example.com' }, [shop]);
    const id = await subjectIdByEmail(stack, 'mover@example.com');
    const move = 'mutation($s: ID!, $r: String!, $why: String!) { moveSubjectRegion(subjectId: $s, region: $r, reason: $why) { subjectId region } }';

    for (const token of [subject.token, await stack.tokens.tenant(shop, ['tenant:admin'])]) {
      const refused = await stack.gql(move, { s: id, r: 'us', why: 'relocation' }, { token });
      expect(codes(refused)).toEqual(['FORBIDDEN']);
    }
    const admin = await stack.tokens.admin();
    expect(codes(await stack.gql(move, { s: id, r: 'us', why: 'Customer asked!' }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stack.gql(move, { s: id, r: 'mars', why: 'relocation' }, { token: admin }))).toEqual(['REGION_UNSUPPORTED']);

    const before = (await stack.gql('{ me { email phone givenName address { city country } nationalId } }', {}, { token: subject.token })).data?.me;
    const moved = await stack.gql(move, { s: id, r: 'us', why: 'relocation-77' }, { token: admin });
    expectNoErrors(moved);
    expect(moved.data?.moveSubjectRegion).toEqual({ subjectId: id, region: 'us' });
    const after = await stack.gql('{ me { region email phone givenName address { city country } nationalId } }', {}, { token: subject.token });
    expect(after.data?.me).toEqual({ region: 'us', ...before });
    expect(await rowsContaining(stack, [id], ['pii_eu', 'pii_eu_keys'])).toEqual([]);
    expect((await subjectIdByEmail(stack, 'mover@example.com'))).toBe(id);
    // Moving again to where it is is harmless.
    expectNoErrors(await stack.gql(move, { s: id, r: 'us', why: 'relocation-77' }, { token: admin }));

    const events = await auditEvents(stack, admin, { action: 'SUBJECT_MOVE' });
    expect(events[0]).toMatchObject({ action: 'SUBJECT_MOVE', field: 'Region.us', purpose: 'relocation-77', decision: 'ALLOW', reason: 'ADMIN' });
  });

  test('User.region is visible to the user, a connected tenant and admins, and not to another tenant calling the subgraph directly', async () => {
    const shop = await createTenant(stack, 'Region Shop');
    const other = await createTenant(stack, 'Other Shop');
    const subject = await createSubject(stack, 'region-reader', { email: 'region.reader@example.com' }, [shop]);
    const tenantToken = await stack.tokens.tenant(shop, []);
    const viaGateway = await stack.gql('query($r: ID!) { user(ref: $r) { ref region } }', { r: subject.refs[shop] }, { token: tenantToken });
    expect(viaGateway.data?.user).toEqual({ ref: subject.refs[shop], region: 'eu' });

    const id = await subjectIdByEmail(stack, 'region.reader@example.com');
    const entities = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { region } } }';
    const direct = await stack.gql(entities, { r: [{ __typename: 'User', id }] }, { service: 'pii', token: await stack.tokens.tenant(other, []) });
    expect(codes(direct)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(direct.data)).not.toContain('eu');
    const own = await stack.gql(entities, { r: [{ __typename: 'User', id }] }, { service: 'pii', token: tenantToken });
    expect(own.data?._entities).toEqual([{ region: 'eu' }]);
  });
});
