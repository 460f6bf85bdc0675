import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent, PROFILE, rowsContaining, subjectIdByEmail } from './kit/scenario';

/*
 * Invariant 8 against backups: a full pg_dump taken before an erasure, restored and started with the
 * same keyring, must not serve or decrypt the erased person. The erasure ledger (outside the
 * databases) is replayed before anything is served. As a control, the same restore started without
 * the ledger does serve the person: the dump really holds decryptable data, and the ledger is what
 * keeps them erased.
 */
const CANARY = { ...PROFILE, email: 'canary.backup@example.com', givenName: 'Quirinus', familyName: 'Backupson', nationalId: 'CANARY2718' };
const NEEDLES = [CANARY.email, 'Quirinus', 'Backupson', 'CANARY2718'];
const FAST = { DSR_RECHECK_SECONDS: '1', DSR_SWEEP_INTERVAL_MS: '1000', JOBS_POLL_SECONDS: '0.5', JOBS_MAINTENANCE_SECONDS: '1' };

const onPostgres = (process.env.PRIVGRAPH_TEST_DATABASE ?? '').startsWith('postgresql');
const describeOnPostgres = onPostgres ? describe : describe.skip;

describeOnPostgres('erasure survives a database restore (pg_dump / psql)', () => {
  let stack: TestStack;
  const work = mkdtempSync(join(tmpdir(), 'privgraph-backup-'));
  const dumpFile = join(work, 'before-erasure.sql');
  const url = () => process.env.DATABASE_URL!;

  afterAll(async () => {
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const restore = async (prefix: string) => {
    const client = (sql: string) => execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', url(), '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
    const schemas = execFileSync('psql', ['-At', url(), '-c', `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, '${prefix}')`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    for (const schema of schemas) client(`DROP SCHEMA "${schema}" CASCADE`);
    execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', url(), '-f', dumpFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  };

  const shopReads = async (tenantId: string, ref: string) =>
    stack.gql('query($r: ID!) { user(ref: $r) { email givenName } }', { r: ref }, { token: await stack.tokens.tenant(tenantId, ['pii:contact:read', 'pii:identity:read']), purpose: 'order_fulfillment' });

  test('a pre-erasure dump restored with the same keyring serves nothing of the person; without the ledger it would', async () => {
    stack = await startTestStack({ env: FAST });
    const tenantId = await createTenant(stack, 'Backup Shop');
    const alice = await createSubject(stack, 'backup-alice', CANARY, [tenantId]);
    await grantConsent(stack, alice, { tenantId, purpose: 'order_fulfillment', categories: ['CONTACT', 'IDENTITY'] });
    const subjectId = await subjectIdByEmail(stack, CANARY.email);
    const ref = alice.refs[tenantId];
    expect((await shopReads(tenantId, ref)).data?.user).toEqual({ email: CANARY.email, givenName: 'Quirinus' });

    // The operator's nightly backup: a full dump of every privgraph schema, taken before the erasure.
    execFileSync('pg_dump', ['--no-owner', '-n', `${stack.schema('')}*`, '-f', dumpFile, url()], { stdio: ['ignore', 'ignore', 'ignore'] });

    const opened = await stack.gql('mutation { requestErasure { id } }', {}, { token: alice.token });
    expectNoErrors(opened);
    const admin = await stack.tokens.admin();
    for (let i = 0; i < 200; i += 1) {
      const r = await stack.gql('query($id: ID!) { dataSubjectRequest(id: $id) { status } }', { id: opened.data!.requestErasure.id }, { token: admin });
      if (r.data?.dataSubjectRequest?.status === 'COMPLETED') break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(codes(await shopReads(tenantId, ref))).toEqual(['NOT_FOUND']);
    const { prefix, dataDir, internalToken } = stack.reuse;
    await stack.halt();

    // Control: restored and started WITHOUT the ledger, the backup serves the person again.
    await restore(prefix);
    stack = await startTestStack({ env: { ...FAST, ERASURE_LEDGER_FILE: join(work, 'no-ledger.jsonl') }, reuse: { prefix, dataDir, internalToken } });
    expect((await shopReads(tenantId, ref)).data?.user).toEqual({ email: CANARY.email, givenName: 'Quirinus' });
    await stack.halt();

    // The real restore: same dump, same keyring, and the ledger privgraph keeps outside the databases.
    await restore(prefix);
    stack = await startTestStack({ env: FAST, reuse: { prefix, dataDir, internalToken } });
    expect(codes(await shopReads(tenantId, ref))).toEqual(['NOT_FOUND']);
    const keys = await stack.sql<{ n: number }>(
      `SELECT (SELECT count(*) FROM "${stack.schema('pii_eu_keys')}".data_key WHERE subject_id = $1)::int + (SELECT count(*) FROM "${stack.schema('pii_us_keys')}".data_key WHERE subject_id = $1)::int AS n`,
      [subjectId],
    );
    expect(keys[0].n).toBe(0);
    expect(await rowsContaining(stack, NEEDLES)).toEqual([]);
    // The restored consent is withdrawn again, before anything was served.
    const active = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schema('consent')}".consent WHERE subject_id = $1 AND withdrawn_at IS NULL`, [subjectId]);
    expect(active[0].n).toBe(0);
    const [subject] = await stack.sql<{ status: string; sub: string }>(`SELECT status, sub FROM "${stack.schema('identity')}".subject WHERE id = $1`, [subjectId]);
    expect(subject).toEqual({ status: 'ERASED', sub: subjectId });
    // The person signing in again is a new, empty account, never the restored one.
    const again = await stack.gql('{ me { email } myTenantLinks { ref } }', {}, { token: await stack.tokens.subject('backup-alice') });
    expect(again.data).toEqual({ me: { email: null }, myTenantLinks: [] });
  });
});
