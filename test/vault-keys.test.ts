import { join } from 'node:path';
import type { KeyRotationRow } from '../subgraphs/pii/src/db/entities';
import { dekAad, fieldAad, open } from '../subgraphs/pii/src/services/crypto';
import { openLocalKeyring } from '../subgraphs/pii/src/services/local-keyring';
import type { DataKeyCacheStats } from '../subgraphs/pii/src/services/data-key-cache';
import { startTestStack, TestClock, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, expectNoErrors, PROFILE, rowsContaining, subjectIdByEmail } from './kit/scenario';

const ROTATION = `id status total done failed targetVersion etaSeconds`;
const rotate = `mutation($why: String!) { rotateRegionKey(region: "eu", reason: $why) { ${ROTATION} } }`;
const progress = `query($id: ID!) { keyRotation(id: $id) { ${ROTATION} } }`;
const regions = '{ piiRegions { code keyProvider keyId latestVersion minDecryptionVersion dataKeys { version count } subjects } }';
const retire = 'mutation($v: Int!) { retireKeyVersions(region: "eu", minDecryptionVersion: $v, reason: "key-hygiene") { latestVersion minDecryptionVersion } }';
const ME = '{ me { email phone givenName familyName birthDate address { city } nationalId } }';

/** A gate the rotation worker waits at after each batch, so a test can act while a rotation is half done. */
function batchGate() {
  let release: () => void = () => undefined;
  let paused = new Promise<void>((resolve) => (release = resolve));
  const reached: KeyRotationRow[] = [];
  let waiters: (() => void)[] = [];
  return {
    hook: async (job: KeyRotationRow) => {
      reached.push(job);
      waiters.splice(0).forEach((w) => w());
      await paused;
    },
    reachedBatch: () => (reached.length > 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    open() {
      release();
      paused = Promise.resolve();
    },
    reset() {
      reached.length = 0;
      waiters = [];
      paused = new Promise<void>((resolve) => (release = resolve));
    },
  };
}

async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting; last value ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('KEK rotation, retirement, re-keying and crypto-shredding (local keyring)', () => {
  let stack: TestStack;
  let admin: string;
  const gate = batchGate();
  let crashNext = false;
  let cacheStats: () => DataKeyCacheStats = () => ({ hits: 0, misses: 0, size: 0 });
  const clock = new TestClock();

  beforeAll(async () => {
    stack = await startTestStack({
      clock,
      env: { PII_REWRAP_BATCH_SIZE: '2', PII_JOB_POLL_MS: '50', PII_JOB_LEASE_MS: '5000' },
      pii: {
        rotationHooks: {
          afterBatch: async (job) => {
            if (crashNext) {
              crashNext = false;
              throw new Error('worker crashed');
            }
            await gate.hook(job);
          },
        },
        exposeCacheStats: (stats) => (cacheStats = stats),
      },
    });
    admin = await stack.tokens.admin();
  });
  afterAll(() => stack?.stop());

  const subjects: { token: string; email: string }[] = [];
  const seed = async (count: number, label: string) => {
    for (let i = 0; i < count; i += 1) {
      const email = `${label}.${i}@example.com`;
      subjects.push({ token: (await createSubject(stack, `${label}-${i}`, { ...PROFILE, email }, [])).token, email });
    }
  };
  const eu = async () => (await stack.gql(regions, {}, { token: admin })).data?.piiRegions.find((r: { code: string }) => r.code === 'eu');

  test('rotation re-wraps every data key in batches while PII keeps being read and written; progress is visible; then the old version retires', async () => {
    await seed(7, 'rotating');
    const before = await eu();
    expect(before).toMatchObject({ keyProvider: 'LOCAL', keyId: 'local:pii-eu', latestVersion: 1, minDecryptionVersion: 1, dataKeys: [{ version: 1, count: 7 }] });

    const started = await stack.gql(rotate, { why: 'scheduled-rotation' }, { token: admin });
    expectNoErrors(started);
    const job = started.data?.rotateRegionKey;
    expect(job).toMatchObject({ status: 'RUNNING', total: 7, targetVersion: 2 });

    await gate.reachedBatch();
    // Half-way: reads and writes work, with keys under both versions.
    const mid = (await stack.gql(progress, { id: job.id }, { token: admin })).data?.keyRotation;
    expect(mid).toMatchObject({ status: 'RUNNING', total: 7, done: 2, failed: 0 });
    expect(await eu()).toMatchObject({ latestVersion: 2, dataKeys: [{ version: 1, count: 5 }, { version: 2, count: 2 }] });
    for (const subject of subjects) {
      const me = await stack.gql(ME, {}, { token: subject.token });
      expectNoErrors(me);
      expect(me.data?.me.email).toBe(subject.email);
    }
    expectNoErrors(await stack.gql('mutation { updateMyProfile(input: { givenName: "Rotated" }) { givenName } }', {}, { token: subjects[6].token }));
    // Retiring version 1 now would strand five keys: refused.
    expect(codes(await stack.gql(retire, { v: 2 }, { token: admin }))).toEqual(['KEY_VERSION_IN_USE']);
    // A second rotation of the same region waits for this one.
    expect(codes(await stack.gql(rotate, { why: 'again' }, { token: admin }))).toEqual(['CONFLICT']);

    gate.open();
    const finished = await waitFor(
      async () => (await stack.gql(progress, { id: job.id }, { token: admin })).data?.keyRotation,
      (p) => p?.status !== 'RUNNING',
    );
    expect(finished).toMatchObject({ status: 'COMPLETED', total: 7, done: 7, failed: 0, etaSeconds: 0 });
    expect((await eu()).dataKeys).toEqual([{ version: 2, count: 7 }]);
    expect((await stack.gql('{ me { givenName } }', {}, { token: subjects[6].token })).data?.me.givenName).toBe('Rotated');

    expect(codes(await stack.gql(retire, { v: 3 }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    const retired = await stack.gql(retire, { v: 2 }, { token: admin });
    expectNoErrors(retired);
    expect(retired.data?.retireKeyVersions).toEqual({ latestVersion: 2, minDecryptionVersion: 2 });
    for (const subject of subjects) expect((await stack.gql('{ me { email } }', {}, { token: subject.token })).data?.me.email).toBe(subject.email);

    const actions = (await auditEvents(stack, admin, {})).filter((e) => e.action.startsWith('KEY_'));
    expect(actions.map((e) => [e.action, e.field, e.purpose])).toEqual(
      expect.arrayContaining([['KEY_ROTATE', 'Region.eu', 'scheduled-rotation'], ['KEY_RETIRE', 'Region.eu', 'key-hygiene']]),
    );
  });

  test('a worker that crashes mid-rotation leaves the job to be resumed once its lease expires, without losing or double-counting keys', async () => {
    gate.reset();
    gate.open();
    crashNext = true;
    const started = await stack.gql(rotate, { why: 'crash-drill' }, { token: admin });
    expectNoErrors(started);
    const job = started.data?.rotateRegionKey;
    const stuck = await waitFor(async () => (await stack.gql(progress, { id: job.id }, { token: admin })).data?.keyRotation, (p) => p.done >= 2);
    expect(stuck).toMatchObject({ status: 'RUNNING', done: 2 });
    // Still leased by the crashed worker: nothing moves.
    await new Promise((r) => setTimeout(r, 300));
    expect((await stack.gql(progress, { id: job.id }, { token: admin })).data?.keyRotation).toMatchObject({ status: 'RUNNING', done: 2 });
    clock.advance(6000);
    const finished = await waitFor(async () => (await stack.gql(progress, { id: job.id }, { token: admin })).data?.keyRotation, (p) => p.status !== 'RUNNING');
    expect(finished).toMatchObject({ status: 'COMPLETED', total: 7, done: 7, failed: 0, targetVersion: 3 });
    expect((await eu()).dataKeys).toEqual([{ version: 3, count: 7 }]);
  });

  test('re-keying seals every field under a fresh data key and destroys the old one', async () => {
    await createSubject(stack, 'rekeyed', { ...PROFILE, email: 'rekeyed@example.com' }, []);
    const token = await stack.tokens.subject('rekeyed');
    const id = await subjectIdByEmail(stack, 'rekeyed@example.com');
    const fields = () => stack.sql<{ field: string; key_generation: number; ciphertext: Buffer }>(`SELECT field, key_generation, ciphertext FROM "${stack.schema('pii_eu')}".pii_field WHERE subject_id = $1 ORDER BY field`, [id]);
    const keys = () => stack.sql<{ generation: number }>(`SELECT generation FROM "${stack.schema('pii_eu_keys')}".data_key WHERE subject_id = $1`, [id]);
    const before = await fields();
    const expected = (await stack.gql(ME, {}, { token })).data?.me;
    const rekey = 'mutation($s: ID!) { rekeySubject(subjectId: $s, reason: "suspected-exposure") { subjectId region generation } }';

    expect(codes(await stack.gql(rekey, { s: id }, { token }))).toEqual(['FORBIDDEN']);
    expect(codes(await stack.gql(rekey, { s: 'not-a-uuid' }, { token: admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await stack.gql(rekey, { s: '00000000-0000-4000-8000-000000000000' }, { token: admin }))).toEqual(['NOT_FOUND']);
    const result = await stack.gql(rekey, { s: id }, { token: admin });
    expectNoErrors(result);
    expect(result.data?.rekeySubject).toEqual({ subjectId: id, region: 'eu', generation: 2 });
    const after = await fields();
    expect(after.map((f) => f.key_generation)).toEqual(after.map(() => 2));
    after.forEach((row, i) => expect(row.ciphertext.equals(before[i].ciphertext)).toBe(false));
    expect(await keys()).toEqual([{ generation: 2 }]);
    expect((await stack.gql(ME, {}, { token })).data?.me).toEqual(expected);
    expect((await auditEvents(stack, admin, { action: 'DEK_REKEY' }))[0]).toMatchObject({ purpose: 'suspected-exposure', reason: 'ADMIN' });
  });

  test('the data-key cache serves repeated reads and forgets a subject at once when it is shredded', async () => {
    const subject = await createSubject(stack, 'cached', { email: 'cached@example.com' }, []);
    await stack.gql('{ me { email } }', {}, { token: subject.token });
    const warm = cacheStats();
    await stack.gql('{ me { email } }', {}, { token: subject.token });
    expect(cacheStats().hits).toBe(warm.hits + 1);
    expect(cacheStats().misses).toBe(warm.misses);
    const id = await subjectIdByEmail(stack, 'cached@example.com');
    expectNoErrors(await stack.gql(`mutation { shredSubject(subjectId: "${id}", reason: "erasure-1") { keysDestroyed } }`, {}, { token: admin }));
    expect(cacheStats().size).toBe(warm.size - 1);
  });

  test('crypto-shredding: a backup copy of the ciphertexts can no longer be decrypted, and no plaintext remains in any table', async () => {
    const canary = { ...PROFILE, email: 'canary.shred@example.com', givenName: 'Zebulon', familyName: 'Shredworth', nationalId: 'CANARY4711' };
    const subject = await createSubject(stack, 'shredded', canary, []);
    const bystander = await createSubject(stack, 'bystander', { email: 'bystander@example.com' }, []);
    const id = await subjectIdByEmail(stack, canary.email);
    const data = `"${stack.schema('pii_eu')}".pii_field`;
    const placement = `"${stack.schema('pii')}".subject_placement`;
    // A backup of the data store (and of the placement) taken before the shred.
    const backup = await stack.sql<{ subject_id: string; field: string; key_generation: number; ciphertext: Buffer; updated_at: Date }>(`SELECT * FROM ${data} WHERE subject_id = $1`, [id]);
    const [placed] = await stack.sql<{ region: string; placed_at: Date }>(`SELECT region, placed_at FROM ${placement} WHERE subject_id = $1`, [id]);
    expect(backup).toHaveLength(7);

    const shred = 'mutation($s: ID!, $why: String!) { shredSubject(subjectId: $s, reason: $why) { subjectId region keysDestroyed ciphertextsDeleted } }';
    expect(codes(await stack.gql(shred, { s: id, why: 'erasure-2' }, { token: subject.token }))).toEqual(['FORBIDDEN']);
    const result = await stack.gql(shred, { s: id, why: 'erasure-2' }, { token: admin });
    expectNoErrors(result);
    expect(result.data?.shredSubject).toEqual({ subjectId: id, region: 'eu', keysDestroyed: 1, ciphertextsDeleted: 7 });
    expect((await stack.gql('{ me { region email givenName } }', {}, { token: subject.token })).data?.me).toEqual({ region: null, email: null, givenName: null });
    expect(await rowsContaining(stack, [canary.email, 'Zebulon', 'Shredworth', 'CANARY4711', '+49301234567', 'Hauptstraße'])).toEqual([]);
    expect(await rowsContaining(stack, [id], ['pii_eu', 'pii_eu_keys', 'pii_us', 'pii_us_keys'])).toEqual([]);

    // Restore the backup: the ciphertexts are back, their key is not; nothing decrypts and nothing errors.
    await stack.sql(`INSERT INTO ${placement} (subject_id, region, placed_at) VALUES ($1, $2, $3)`, [id, placed.region, placed.placed_at]);
    for (const row of backup) {
      await stack.sql(`INSERT INTO ${data} (subject_id, field, key_generation, ciphertext, updated_at) VALUES ($1, $2, $3, $4, $5)`, [row.subject_id, row.field, row.key_generation, row.ciphertext, row.updated_at]);
    }
    const restored = await stack.gql('{ me { email givenName nationalId } }', {}, { token: subject.token });
    expect(restored.data?.me).toEqual({ email: null, givenName: null, nationalId: null });
    expect(restored.errors).toBeUndefined();
    // Not one data key the platform still holds, in any region, opens any of the copied ciphertexts.
    const keyring = openLocalKeyring(join(stack.dataDir, 'keyring.json'));
    for (const region of ['eu', 'us']) {
      const rows = await stack.sql<{ subject_id: string; wrapped: string }>(`SELECT subject_id, wrapped FROM "${stack.schema(`pii_${region}_keys`)}".data_key`);
      const deks = await keyring.kek(`pii-${region}`).unwrapMany(rows.map((r) => ({ wrapped: r.wrapped, context: dekAad(r.subject_id) })));
      for (const dek of deks) for (const row of backup) expect(() => open(dek, row.ciphertext, fieldAad(id, row.field))).toThrow();
    }
    expect((await stack.gql('{ me { email } }', {}, { token: bystander.token })).data?.me.email).toBe('bystander@example.com');
    expect((await auditEvents(stack, admin, { action: 'SUBJECT_SHRED' }))[0]).toMatchObject({ purpose: 'erasure-2', decision: 'ALLOW', reason: 'ADMIN', field: null });
    // Shredding again is harmless and reports what was left.
    expect((await stack.gql(shred, { s: id, why: 'erasure-2' }, { token: admin })).data?.shredSubject).toMatchObject({ keysDestroyed: 0, ciphertextsDeleted: 7 });
  });

  test('a data key that cannot be re-wrapped is counted as failed, the rest finish, and its KEK version cannot be retired', async () => {
    gate.reset();
    gate.open();
    const damaged = await createSubject(stack, 'damaged', { email: 'damaged@example.com' }, []);
    const id = await subjectIdByEmail(stack, 'damaged@example.com');
    const keys = `"${stack.schema('pii_eu_keys')}".data_key`;
    // Corrupt the wrapped key's authentication tag in the key store.
    const [row] = await stack.sql<{ wrapped: string }>(`SELECT wrapped FROM ${keys} WHERE subject_id = $1`, [id]);
    const [prefix, version, body] = row.wrapped.split(':');
    const bytes = Buffer.from(body, 'base64');
    bytes[bytes.length - 1] ^= 1;
    await stack.sql(`UPDATE ${keys} SET wrapped = $2 WHERE subject_id = $1`, [id, `${prefix}:${version}:${bytes.toString('base64')}`]);

    const started = await stack.gql(rotate, { why: 'with-damage' }, { token: admin });
    expectNoErrors(started);
    const job = started.data?.rotateRegionKey;
    const finished = await waitFor(async () => (await stack.gql(progress, { id: job.id }, { token: admin })).data?.keyRotation, (p) => p.status !== 'RUNNING');
    expect(finished).toMatchObject({ status: 'FAILED', failed: 1, done: job.total - 1 });
    const latest = (await eu()).latestVersion;
    expect(codes(await stack.gql(retire, { v: latest }, { token: admin }))).toEqual(['KEY_VERSION_IN_USE']);
    // The damaged subject's PII fails (integrity), masked as an internal error; nobody else is affected.
    const read = await stack.gql('{ me { region email } }', {}, { token: damaged.token });
    expect(read.data?.me).toEqual({ region: 'eu', email: null });
    expect(codes(read)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect((await stack.gql('{ me { email } }', {}, { token: subjects[0].token })).data?.me.email).toBe(subjects[0].email);
  });
});

describe('a KEK version retired outside privgraph while data keys still use it', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ env: { DEK_CACHE_TTL_MS: '0' } });
  });
  afterAll(() => stack?.stop());

  test('reads fail closed with KEY_VERSION_RETIRED; non-PII is still served', async () => {
    const shop = await createSubject(stack, 'stranded', { email: 'stranded@example.com', givenName: 'Stranded' }, []);
    const keyring = openLocalKeyring(join(stack.dataDir, 'keyring.json')).kek('pii-eu');
    await keyring.rotate();
    await keyring.retire(2); // e.g. an operator edited the keyring; version 1 is gone
    const me = await stack.gql('{ me { region email givenName } }', {}, { token: shop.token });
    expect(me.data?.me).toEqual({ region: 'eu', email: null, givenName: null });
    expect(new Set(codes(me))).toEqual(new Set(['KEY_VERSION_RETIRED']));
    const write = await stack.gql('mutation { updateMyProfile(input: { familyName: "Late" }) { region } }', {}, { token: shop.token });
    expect(codes(write)).toEqual(['KEY_VERSION_RETIRED']);
  });
});
