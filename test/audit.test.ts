import { mintDevToken } from '../shared/auth/dev-issuer';
import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, grantConsent, PROFILE } from './kit/scenario';

/** Invariant 2: every PII decision is in a tamper-evident log before the value leaves; without the log, no PII. */
describe('audit log', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  async function verify() {
    const response = await stack.gql('{ verifyAuditLog { ok checked firstBadSeq } }', {}, { token: await stack.tokens.admin() });
    expectNoErrors(response);
    return response.data!.verifyAuditLog as { ok: boolean; checked: number; firstBadSeq: number | null };
  }

  async function produceEvents(count: number) {
    const shop = await createTenant(stack, `Shop ${Math.random()}`);
    const subject = await createSubject(stack, `s${Math.random().toString(36).slice(2)}`, PROFILE, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
    const token = await stack.tokens.tenant(shop, ['pii:contact:read']);
    for (let i = 0; i < count; i += 1) {
      await stack.gql('query($ref: ID!) { user(ref: $ref) { email } }', { ref: subject.refs[shop] }, { token, purpose: 'crm' });
    }
  }

  test('the chain verifies across many events, and pages come newest first in sequence order', async () => {
    await produceEvents(25);
    const result = await verify();
    expect(result).toEqual({ ok: true, checked: expect.any(Number), firstBadSeq: null });
    expect(result.checked).toBeGreaterThanOrEqual(25);
    const events = await auditEvents(stack, await stack.tokens.admin(), {}, 500);
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(seqs[0]).toBe(result.checked);
  });

  test('pagination walks the whole log without gaps or repeats', async () => {
    const admin = await stack.tokens.admin();
    const seen: number[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = await stack.gql(
        'query($after: String) { auditEvents(first: 7, after: $after) { edges { node { seq } cursor } pageInfo { hasNextPage endCursor } } }',
        { after },
        { token: admin },
      );
      expectNoErrors(page);
      seen.push(...page.data.auditEvents.edges.map((e: { node: { seq: number } }) => e.node.seq));
      if (!page.data.auditEvents.pageInfo.hasNextPage) break;
      after = page.data.auditEvents.pageInfo.endCursor;
    }
    const total = (await verify()).checked;
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => total - i));
  });

  test('the log is write-once in the database: UPDATE, DELETE and TRUNCATE are refused even for the owner', async () => {
    await produceEvents(1);
    const table = `"${stack.schemas.audit}".audit_event`;
    const before = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    for (const statement of [`UPDATE ${table} SET decision = 'DENY'`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
      const failure = await stack.sql(statement).catch((error) => error);
      expect(failure).toMatchObject({ code: '42501', message: expect.stringMatching(/write-once: (UPDATE|DELETE|TRUNCATE) is not allowed/) });
    }
    expect(await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).toEqual(before);
    expect(await verify()).toMatchObject({ ok: true });
  });

  test('a row altered directly in the table is reported by its sequence number', async () => {
    await produceEvents(3);
    const table = `"${stack.schemas.audit}".audit_event`;
    const [{ seq }] = await stack.sql<{ seq: string }>(`SELECT seq::text FROM ${table} WHERE decision = 'ALLOW' ORDER BY seq LIMIT 1 OFFSET 2`);
    await stack.tamper(`UPDATE ${table} SET decision = 'DENY' WHERE seq = $1`, [seq]);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: Number(seq) });
    await stack.tamper(`UPDATE ${table} SET decision = 'ALLOW' WHERE seq = $1`, [seq]);
    expect(await verify()).toMatchObject({ ok: true });
  });

  test('a deleted row is reported as the missing sequence number', async () => {
    const table = `"${stack.schemas.audit}".audit_event`;
    const [row] = await stack.sql<Record<string, unknown>>(`SELECT * FROM ${table} WHERE seq = 5`);
    await stack.tamper(`DELETE FROM ${table} WHERE seq = 5`);
    expect(await verify()).toMatchObject({ ok: false, firstBadSeq: 5 });
    // Put back as the tamperer would, triggers off: seq 5 is still taken in the sequence ledger (audit_seq_range), which
    // refuses any second event with that number.
    const columns = Object.keys(row);
    await stack.tamper(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(row));
    expect(await verify()).toMatchObject({ ok: true });
  });

  test('odd characters in a caller id are stored exactly (the chain still verifies)', async () => {
    const shop = await createTenant(stack, 'Odd Shop');
    const subject = await createSubject(stack, 'oddchars', PROFILE, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
    const clientId = 'client\twith\\odd\nchars\r and \\N';
    const token = await mintDevToken(stack.key, { sub: clientId, clientId, organizationId: shop, scopes: ['pii:contact:read'] });
    const response = await stack.gql('query($ref: ID!) { user(ref: $ref) { email } }', { ref: subject.refs[shop] }, { token, purpose: 'crm' });
    expect(response.data?.user.email).toBe(PROFILE.email);
    const [row] = await stack.sql<{ actor_id: string }>(
      `SELECT actor_id FROM "${stack.schemas.audit}".audit_event WHERE request_id = $1`,
      [response.headers.get('x-request-id')],
    );
    expect(row.actor_id).toBe(clientId);
    expect(await verify()).toMatchObject({ ok: true });
  });

  test('audit events hold ids and codes only, never a PII value', async () => {
    const rows = await stack.sql<Record<string, unknown>>(`SELECT * FROM "${stack.schemas.audit}".audit_event`);
    const dump = JSON.stringify(rows);
    for (const value of [PROFILE.email, PROFILE.givenName, PROFILE.familyName, PROFILE.nationalId, '+49301234567', 'Berlin']) {
      expect(dump).not.toContain(value);
    }
  });

  test('with the audit store refusing writes, PII fails closed and the log stays intact', async () => {
    const shop = await createTenant(stack, 'Store Shop');
    const subject = await createSubject(stack, 'storedown', PROFILE, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
    const token = await stack.tokens.tenant(shop, ['pii:contact:read']);
    const query = 'query($ref: ID!) { user(ref: $ref) { ref email } }';
    const table = `"${stack.schemas.audit}".audit_event`;
    const before = (await verify()).checked;
    // The store rejects every insert (as a full disk or a revoked grant would); the audit service itself is up.
    await stack.sql(`ALTER TABLE ${table} ADD CONSTRAINT refuse_all CHECK (false) NOT VALID`);
    try {
      const during = await stack.gql(query, { ref: subject.refs[shop] }, { token, purpose: 'crm' });
      expect(during.data?.user).toEqual({ ref: subject.refs[shop], email: null });
      expect(codes(during)).toEqual(['AUDIT_UNAVAILABLE']);
      expect(JSON.stringify(during)).not.toContain(PROFILE.email);
    } finally {
      await stack.sql(`ALTER TABLE ${table} DROP CONSTRAINT refuse_all`);
    }
    expect(await verify()).toMatchObject({ ok: true, checked: before });
    const after = await stack.gql(query, { ref: subject.refs[shop] }, { token, purpose: 'crm' });
    expect(after.data?.user.email).toBe(PROFILE.email);
  });

  test('with the audit service down, PII fails closed with AUDIT_UNAVAILABLE while non-PII fields still resolve', async () => {
    const shop = await createTenant(stack, 'Down Shop');
    const subject = await createSubject(stack, 'downtime', PROFILE, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
    const token = await stack.tokens.tenant(shop, ['pii:contact:read']);
    const query = 'query($ref: ID!) { user(ref: $ref) { ref status email phone } }';
    const before = await stack.gql(query, { ref: subject.refs[shop] }, { token, purpose: 'crm' });
    expect(before.data?.user.email).toBe(PROFILE.email);

    await stack.running.subgraphs.audit.stop();
    const during = await stack.gql(query, { ref: subject.refs[shop] }, { token, purpose: 'crm' });
    expect(during.data?.user).toEqual({ ref: subject.refs[shop], status: 'ACTIVE', email: null, phone: null });
    expect(new Set(codes(during))).toEqual(new Set(['AUDIT_UNAVAILABLE']));

    const storedEmail = () =>
      stack.sql<{ ciphertext: Buffer }>(
        `SELECT f.ciphertext FROM "${stack.schema('pii_eu')}".pii_field f
           JOIN "${stack.schemas.identity}".subject s ON s.id = f.subject_id
          WHERE s.sub = 'downtime' AND f.field = 'email'`,
      );
    const [emailBefore] = await storedEmail();
    const write = await stack.gql('mutation { updateMyProfile(input: { email: "new@example.com" }) { email } }', {}, { token: subject.token });
    expect(codes(write)).toEqual(['AUDIT_UNAVAILABLE']);
    const [emailAfter] = await storedEmail();
    expect(emailAfter.ciphertext.equals(emailBefore.ciphertext)).toBe(true);
  });
});
