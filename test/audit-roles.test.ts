import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startTestStack, TestClock, type TestStack } from './kit/stack';
import { createTenant, expectNoErrors } from './kit/scenario';

/**
 * With a separate owner for migrations, the audit service's application role may only INSERT and
 * SELECT. The embedded default has a single role, so this runs on PostgreSQL only (CI); the
 * write-once triggers are tested on both (audit.test.ts).
 */
const embedded = (process.env.PRIVGRAPH_TEST_DATABASE ?? '').startsWith('embedded');

(embedded ? describe.skip : describe)('audit application role (PostgreSQL)', () => {
  const role = `privgraph_audit_app_${randomBytes(4).toString('hex')}`;
  const ownerUrl = process.env.DATABASE_URL as string;
  const appUrl = (() => {
    const url = new URL(ownerUrl);
    url.username = role;
    url.password = '';
    return url.toString();
  })();
  let stack: TestStack;
  let owner: Client;
  const clock = new TestClock();

  beforeAll(async () => {
    owner = new Client({ connectionString: ownerUrl });
    await owner.connect();
    await owner.query(`CREATE ROLE ${role} LOGIN`);
    stack = await startTestStack({ clock, env: { AUDIT_DATABASE_URL: appUrl, AUDIT_MIGRATION_DATABASE_URL: ownerUrl, AUDIT_RETENTION_DAYS: '1' } });
  });
  afterAll(async () => {
    await stack?.stop();
    await owner.query(`DROP OWNED BY ${role}`).catch(() => undefined);
    await owner.query(`DROP ROLE IF EXISTS ${role}`);
    await owner.end();
  });

  test('the service appends through the application role, which cannot UPDATE, DELETE or TRUNCATE', async () => {
    await createTenant(stack, 'Role Shop');
    const verified = await stack.gql('{ verifyAuditLog { ok checked } }', {}, { token: await stack.tokens.admin() });
    expect(verified.data?.verifyAuditLog).toMatchObject({ ok: true, checked: 1 });

    const app = new Client({ connectionString: appUrl });
    await app.connect();
    try {
      const table = `"${stack.schemas.audit}".audit_event`;
      expect((await app.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(1);
      for (const statement of [`UPDATE ${table} SET decision = 'DENY'`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
        const failure = await app.query(statement).catch((error) => error);
        expect(failure).toMatchObject({ code: '42501', message: expect.stringMatching(/permission denied/) });
      }
      const migrations = await app.query(`SELECT 1 FROM "${stack.schemas.audit}".migrations`).catch((error) => error);
      expect(migrations).toMatchObject({ code: '42501' });
      // Rows reach a month's partition only through the log (whose statement trigger claims their numbers).
      const month = `audit_event_${clock.now().toISOString().slice(0, 7).replace('-', '_')}`;
      const direct = await app.query(`INSERT INTO "${stack.schemas.audit}"."${month}" (seq) VALUES (1)`).catch((error) => error);
      expect(direct).toMatchObject({ code: '42501' });
    } finally {
      await app.end();
    }
  });

  test('the application role cannot detach or drop a partition; retention removes an expired month as the owner', async () => {
    const month = `audit_event_${clock.now().toISOString().slice(0, 7).replace('-', '_')}`;
    const partition = `"${stack.schemas.audit}"."${month}"`;
    const app = new Client({ connectionString: appUrl });
    await app.connect();
    try {
      for (const statement of [`ALTER TABLE "${stack.schemas.audit}".audit_event DETACH PARTITION ${partition}`, `DROP TABLE ${partition}`, `TRUNCATE ${partition}`]) {
        const failure = await app.query(statement).catch((error) => error);
        expect(failure).toMatchObject({ code: '42501' });
      }
    } finally {
      await app.end();
    }
    clock.advance(70 * 86_400_000);
    await createTenant(stack, 'Role Shop Later');
    // The partition made for the new month at run time grants the application role nothing either.
    const later = `audit_event_${clock.now().toISOString().slice(0, 7).replace('-', '_')}`;
    const app2 = new Client({ connectionString: appUrl });
    await app2.connect();
    try {
      const direct = await app2.query(`INSERT INTO "${stack.schemas.audit}"."${later}" (seq) VALUES (1)`).catch((error) => error);
      expect(direct).toMatchObject({ code: '42501' });
    } finally {
      await app2.end();
    }
    const admin = await stack.tokens.admin();
    const run = await stack.gql('mutation { runAuditRetention(reason: "roles-test") { removed { name } problem } }', {}, { token: admin });
    expectNoErrors(run);
    expect(run.data?.runAuditRetention).toEqual({ removed: [{ name: month }], problem: null });
    const verified = await stack.gql('{ verifyAuditLog { ok problem } }', {}, { token: admin });
    expect(verified.data?.verifyAuditLog).toEqual({ ok: true, problem: null });
  });
});
