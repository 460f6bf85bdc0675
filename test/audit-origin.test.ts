import { randomUUID } from 'node:crypto';
import { AUDIT_INGEST_PATH } from '../shared/audit/events';
import { INTERNAL_TOKEN_HEADER } from '../shared/internal-api';
import { startTestStack, type GqlOptions, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent, type Subject } from './kit/scenario';

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const READ = 'query($r: ID!) { user(ref: $r) { email } }';

interface StoredOrigin {
  action: string;
  origin: string | null;
  userAgentClass: string | null;
}

/** What the audit table holds for one request (by the x-request-id the caller chose). */
async function storedOrigins(stack: TestStack, requestId: string): Promise<StoredOrigin[]> {
  return stack.sql<StoredOrigin>(
    `SELECT action, client_origin AS origin, user_agent_class AS "userAgentClass" FROM "${stack.schemas.audit}".audit_event WHERE request_id = $1 ORDER BY seq`,
    [requestId],
  );
}

/** A shop, a customer who consented to CONTACT for crm, and the shop's backend token. */
async function shopWithCustomer(stack: TestStack, name: string): Promise<{ shop: string; customer: Subject; cms: string }> {
  const shop = await createTenant(stack, `${name} Shop`);
  const customer = await createSubject(stack, name, { email: `${name}@example.com` }, [shop]);
  await grantConsent(stack, customer, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
  return { shop, customer, cms: await stack.tokens.tenant(shop, ['pii:contact:read']) };
}

/** Reads the customer's email through the gateway (or a subgraph) under a request id of our own. */
async function readAs(stack: TestStack, cms: string, customer: Subject, shop: string, options: GqlOptions = {}) {
  const requestId = `origin-${randomUUID()}`;
  const response = await stack.gql(READ, { r: customer.refs[shop] }, { token: cms, purpose: 'crm', ...options, headers: { 'x-request-id': requestId, ...options.headers } });
  expectNoErrors(response);
  expect(response.data?.user.email).toBe(`${customer.name}@example.com`);
  return requestId;
}

describe('audit events say where a request came from (defaults: the gateway trusts no proxy)', () => {
  let stack: TestStack;
  let admin: string;
  let table: string;
  beforeAll(async () => {
    stack = await startTestStack({ env: { AUDIT_CHECKPOINT_INTERVAL_MS: '0' } });
    admin = await stack.tokens.admin();
    table = `"${stack.schemas.audit}".audit_event`;
  });
  afterAll(() => stack?.stop());

  test('a read through the gateway records the client network (/24) and its user-agent class; forged forwarding headers are ignored', async () => {
    const { shop, customer, cms } = await shopWithCustomer(stack, 'origin-plain');
    const plain = await readAs(stack, cms, customer, shop, { headers: { 'user-agent': BROWSER } });
    expect(await storedOrigins(stack, plain)).toEqual([{ action: 'PII_READ', origin: '127.0.0.0/24', userAgentClass: 'BROWSER' }]);

    // No proxy is trusted by default: a client claiming another address is recorded at its own.
    const forged = await readAs(stack, cms, customer, shop, {
      headers: { 'user-agent': 'curl/8.5.0', 'x-forwarded-for': '198.51.100.7', forwarded: 'for=198.51.100.7' },
    });
    expect(await storedOrigins(stack, forged)).toEqual([{ action: 'PII_READ', origin: '127.0.0.0/24', userAgentClass: 'CLI' }]);

    // Admin and consent actions carry it too (one place stamps every event of a request).
    const requestId = `origin-${randomUUID()}`;
    const created = await stack.gql('mutation { createTenant(input: { name: "Origin Admin Shop" }) { id } }', {}, { token: admin, headers: { 'x-request-id': requestId } });
    expectNoErrors(created);
    expect(await storedOrigins(stack, requestId)).toEqual([{ action: 'TENANT_CREATE', origin: '127.0.0.0/24', userAgentClass: 'SERVER' }]);
  });

  test('auditEvents shows origin and user-agent class and filters by origin; the export carries both', async () => {
    const { shop, customer, cms } = await shopWithCustomer(stack, 'origin-shown');
    const requestId = await readAs(stack, cms, customer, shop, { headers: { 'user-agent': BROWSER } });
    const QUERY = `query($f: AuditFilter) { auditEvents(filter: $f) { edges { node { action requestId origin userAgentClass } } } }`;
    const mine = await stack.gql(QUERY, { f: { requestId, origin: '127.0.0.0/24' } }, { token: cms });
    expectNoErrors(mine);
    expect(mine.data?.auditEvents.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { action: 'PII_READ', requestId, origin: '127.0.0.0/24', userAgentClass: 'BROWSER' },
    ]);
    const elsewhere = await stack.gql(QUERY, { f: { origin: '198.51.100.0/24' } }, { token: cms });
    expectNoErrors(elsewhere);
    expect(elsewhere.data?.auditEvents.edges).toEqual([]);
    expect(codes(await stack.gql(QUERY, { f: { origin: 'x'.repeat(500) } }, { token: cms }))).toEqual(['BAD_USER_INPUT']);

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const url = (format: string) => `${stack.running.gateway.url}/audit/export?${new URLSearchParams({ format, since, until })}`;
    const jsonl = await fetch(url('jsonl'), { headers: { authorization: `Bearer ${cms}` } });
    expect(jsonl.status).toBe(200);
    const lines = (await jsonl.text()).trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.find((line) => line.requestId === requestId)).toMatchObject({ origin: '127.0.0.0/24', userAgentClass: 'BROWSER' });
    const csv = await (await fetch(url('csv'), { headers: { authorization: `Bearer ${cms}` } })).text();
    const [header, ...rows] = csv.trim().split('\r\n');
    expect(header.split(',').slice(-2)).toEqual(['origin', 'userAgentClass']);
    expect(rows.find((row) => row.includes(requestId))?.endsWith(',127.0.0.0/24,BROWSER')).toBe(true);
    // The export is itself audited, with the exporter's origin (passed on by the gateway's proxy route).
    const exported = await stack.sql<StoredOrigin>(
      `SELECT action, client_origin AS origin, user_agent_class AS "userAgentClass" FROM ${table} WHERE action = 'AUDIT_EXPORT' AND tenant_id = $1`,
      [shop],
    );
    expect(exported).toEqual([
      { action: 'AUDIT_EXPORT', origin: '127.0.0.0/24', userAgentClass: 'SERVER' },
      { action: 'AUDIT_EXPORT', origin: '127.0.0.0/24', userAgentClass: 'SERVER' },
    ]);
  });

  test('myAccessLog shows the subject from where their data was read, and only their own entries', async () => {
    const { shop, customer, cms } = await shopWithCustomer(stack, 'origin-subject');
    const other = await shopWithCustomer(stack, 'origin-other');
    await readAs(stack, cms, customer, shop, { headers: { 'user-agent': 'okhttp/4.12.0' } });
    await readAs(stack, other.cms, other.customer, other.shop, { headers: { 'user-agent': BROWSER } });
    const log = await stack.gql('{ myAccessLog { edges { node { action field origin userAgentClass } } } }', {}, { token: customer.token });
    expectNoErrors(log);
    expect(log.data?.myAccessLog.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { action: 'PII_READ', field: 'User.email', origin: '127.0.0.0/24', userAgentClass: 'MOBILE_APP' },
    ]);
  });

  test('the chain hash covers origin and user-agent class: an edit is named by verification', async () => {
    const { shop, customer, cms } = await shopWithCustomer(stack, 'origin-tamper');
    const requestId = await readAs(stack, cms, customer, shop, { headers: { 'user-agent': BROWSER } });
    const VERIFY = '{ verifyAuditLog { ok firstBadSeq problem } }';
    expect((await stack.gql(VERIFY, {}, { token: admin })).data?.verifyAuditLog).toEqual({ ok: true, firstBadSeq: null, problem: null });
    const [{ seq }] = await stack.sql<{ seq: string }>(`SELECT seq::text AS seq FROM ${table} WHERE request_id = $1`, [requestId]);
    for (const [column, forged] of [
      ['client_origin', '10.0.0.0/24'],
      ['client_origin', null],
      ['user_agent_class', 'BOT'],
      ['user_agent_class', null],
    ] as const) {
      const [original] = await stack.sql<{ value: string | null }>(`SELECT ${column} AS value FROM ${table} WHERE seq = $1`, [seq]);
      await stack.tamper(`UPDATE ${table} SET ${column} = $2 WHERE seq = $1`, [seq, forged]);
      expect((await stack.gql(VERIFY, {}, { token: admin })).data?.verifyAuditLog).toEqual({ ok: false, firstBadSeq: Number(seq), problem: 'CHAIN_BROKEN' });
      await stack.tamper(`UPDATE ${table} SET ${column} = $2 WHERE seq = $1`, [seq, original.value]);
    }
    expect((await stack.gql(VERIFY, {}, { token: admin })).data?.verifyAuditLog).toEqual({ ok: true, firstBadSeq: null, problem: null });
  });

  test('no full address is stored in any audit table, and the audit service refuses one', async () => {
    const rows = await stack.sql<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE client_origin IS NOT NULL`);
    expect(Number(rows[0].n)).toBeGreaterThan(0);
    expect(await stack.sql(`SELECT client_origin FROM ${table} WHERE client_origin !~ '/(24|48)$'`)).toEqual([]);
    // Nowhere in the audit schema, in any table or column, is the client's full address.
    const tables = await stack.sql<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, [stack.schemas.audit]);
    for (const { name } of tables) {
      expect(await stack.sql(`SELECT 1 FROM "${stack.schemas.audit}"."${name}" t WHERE t::text LIKE '%127.0.0.1%'`)).toEqual([]);
    }

    const event = {
      occurredAt: new Date().toISOString(), actorType: 'SYSTEM', actorId: 'origin-test', tenantId: null, subjectId: null, action: 'AUDIT_PURGE',
      field: null, purpose: null, decision: 'ALLOW', reason: 'SYSTEM', consentId: null, requestId: `origin-${randomUUID()}`,
    };
    const ingest = (origin: string) =>
      fetch(`${stack.running.subgraphs.audit.url}${AUDIT_INGEST_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: stack.reuse.internalToken },
        body: JSON.stringify({ events: [{ ...event, origin }] }),
      });
    for (const full of ['203.0.113.7', '203.0.113.7/24', '2001:db8::1', '2001:db8::1/128', '2001:db8:85a3:1:2:3:4:5/48']) expect((await ingest(full)).status).toBe(400);
    // The table refuses one too, whatever writes it.
    for (const full of ['203.0.113.7', '2001:db8:85a3:1:2:3:4:5/48']) {
      await expect(stack.tamper(`UPDATE ${table} SET client_origin = $1 WHERE seq = (SELECT max(seq) FROM ${table})`, [full])).rejects.toThrow(/audit_event_client_origin_shape/);
    }
  });
});

describe('trusted proxies', () => {
  test('behind a listed proxy the gateway takes the client from X-Forwarded-For (walked from the right), for the audit log (IPv6 kept to its /48) and the anonymous rate limit', async () => {
    const stack = await startTestStack({ env: { TRUSTED_PROXIES: 'loopback', RATE_LIMIT_ANONYMOUS_POINTS: '5' } });
    try {
      const { shop, customer, cms } = await shopWithCustomer(stack, 'origin-proxied');
      const origin = async (forwardedFor: string) => (await storedOrigins(stack, await readAs(stack, cms, customer, shop, { headers: { 'x-forwarded-for': forwardedFor } })))[0].origin;
      expect(await origin('198.51.100.7')).toBe('198.51.100.0/24');
      // A hop the client wrote in front of the proxy's entry is not believed: the first untrusted hop from the right is the client.
      expect(await origin('203.0.113.99, 198.51.100.7')).toBe('198.51.100.0/24');
      expect(await origin('2001:db8:1234:5678::9')).toBe('2001:db8:1234::/48');
      expect(await origin('::ffff:203.0.113.9')).toBe('203.0.113.0/24');
      // A malformed hop ends the walk at the proxy that wrote it.
      expect(await origin('not-an-address')).toBe('127.0.0.0/24');

      // The anonymous rate limit keys on the same client address (in full): each client behind the proxy has its own budget,
      // and a hop prepended by the client does not buy a fresh one.
      const anonymous = (forwardedFor: string) => stack.gql('{ __typename }', {}, { headers: { 'x-forwarded-for': forwardedFor } });
      for (let i = 0; i < 5; i += 1) expectNoErrors(await anonymous('198.51.100.20'));
      expect(codes(await anonymous('198.51.100.20'))).toEqual(['RATE_LIMITED']);
      expect(codes(await anonymous('203.0.113.1, 198.51.100.20'))).toEqual(['RATE_LIMITED']);
      expectNoErrors(await anonymous('198.51.100.21'));
    } finally {
      await stack.stop();
    }
  });

  test('a subgraph believes forwarding headers only from proxies it lists: a direct call with a forged X-Forwarded-For is recorded at its own address', async () => {
    // The gateway trusts its loopback caller, the subgraphs trust nobody (not even the gateway).
    const stack = await startTestStack({ env: { TRUSTED_PROXIES: 'loopback', SUBGRAPH_TRUSTED_PROXIES: '' } });
    try {
      const admin = await stack.tokens.admin();
      const requestId = `origin-${randomUUID()}`;
      const direct = await stack.gql('mutation { createTenant(input: { name: "Direct Shop" }) { id } }', {}, {
        token: admin,
        service: 'identity',
        headers: { 'x-request-id': requestId, 'x-forwarded-for': '198.51.100.7', forwarded: 'for=198.51.100.7', 'user-agent': 'curl/8.5.0' },
      });
      expectNoErrors(direct);
      expect(await storedOrigins(stack, requestId)).toEqual([{ action: 'TENANT_CREATE', origin: '127.0.0.0/24', userAgentClass: 'CLI' }]);

      // Through the gateway too, since the subgraphs do not list the gateway here.
      const { shop, customer, cms } = await shopWithCustomer(stack, 'origin-unlisted');
      const viaGateway = await readAs(stack, cms, customer, shop, { headers: { 'x-forwarded-for': '198.51.100.7' } });
      expect((await storedOrigins(stack, viaGateway))[0].origin).toBe('127.0.0.0/24');
    } finally {
      await stack.stop();
    }
  });
});
