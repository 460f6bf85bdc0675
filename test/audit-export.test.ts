import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, createSubject, createTenant, grantConsent } from './kit/scenario';

/** Streamed export of a time range as JSON Lines or CSV, through the gateway. */
describe('audit export', () => {
  let stack: TestStack;
  let shop: string;
  let other: string;
  const start = new Date(Date.now() - 60_000).toISOString();

  beforeAll(async () => {
    stack = await startTestStack();
    shop = await createTenant(stack, 'Export Shop, "Berlin"');
    other = await createTenant(stack, 'Other Export Shop');
    for (const [i, tenant] of [shop, other, shop].entries()) {
      const subject = await createSubject(stack, `export-${i}`, { email: `export${i}@example.com` }, [tenant]);
      await grantConsent(stack, subject, { tenantId: tenant, purpose: 'crm', categories: ['CONTACT'] });
      await stack.gql('query($r: ID!) { user(ref: $r) { email } }', { r: subject.refs[tenant] }, { token: await stack.tokens.tenant(tenant, ['pii:contact:read']), purpose: 'crm' });
    }
  });
  afterAll(() => stack?.stop());

  const exportUrl = (params: Record<string, string>) => `${stack.running.gateway.url}/audit/export?${new URLSearchParams(params)}`;
  const get = async (params: Record<string, string>, token?: string) => {
    const response = await fetch(exportUrl(params), { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: response.status, type: response.headers.get('content-type'), disposition: response.headers.get('content-disposition'), text: await response.text() };
  };
  const until = () => new Date(Date.now() + 60_000).toISOString();

  test('a platform admin exports every event of the range as JSON Lines, in time order, with refs and never subject ids or PII', async () => {
    const events = await auditEvents(stack, await stack.tokens.admin(), {}, 500);
    const result = await get({ format: 'jsonl', since: start, until: until() }, await stack.tokens.admin());
    expect(result.status).toBe(200);
    expect(result.type).toMatch(/application\/x-ndjson/);
    expect(result.disposition).toMatch(/attachment; filename="audit-.*\.jsonl"/);
    const lines = result.text.trim().split('\n').map((line) => JSON.parse(line));
    // Every event that existed before the export, once (the export's own AUDIT_EXPORT event may follow), in time order.
    const exported = lines.map((l) => l.seq);
    expect(new Set(exported).size).toBe(exported.length);
    expect(exported.filter((seq) => seq <= events[0].seq).sort((a, b) => a - b)).toEqual(events.map((e) => e.seq).reverse());
    const order = lines.map((l) => [l.occurredAt, l.seq]);
    expect(order).toEqual([...order].sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1)));
    const read = lines.find((l) => l.action === 'PII_READ' && l.actorType === 'TENANT');
    expect(read.memberId).toBeNull();
    expect(Object.keys(read).sort()).toEqual(['action', 'actorType', 'consentId', 'decision', 'field', 'occurredAt', 'purpose', 'reason', 'requestId', 'seq', 'subjectRef', 'tenantId', 'memberId', 'outcome', 'origin', 'userAgentClass'].sort());
    expect(read.subjectRef).toMatch(/^usr_/);
    expect(result.text).not.toMatch(/export\d@example\.com/);
  });

  test('a tenant exports only its own events, as CSV with a header', async () => {
    const result = await get({ format: 'csv', since: start, until: until() }, await stack.tokens.tenant(shop, []));
    expect(result.status).toBe(200);
    expect(result.type).toMatch(/text\/csv/);
    const [header, ...rows] = result.text.trim().split('\r\n');
    expect(header).toBe('seq,occurredAt,actorType,tenantId,subjectRef,action,field,purpose,decision,reason,consentId,requestId,memberId,outcome,origin,userAgentClass');
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) expect(row.split(',')[3]).toBe(shop);
    expect(result.text).not.toContain(other);
    // The export itself was audited, in the tenant's own slice.
    const exports = await auditEvents(stack, await stack.tokens.tenant(shop, []), { action: 'AUDIT_EXPORT' });
    expect(exports.length).toBeGreaterThanOrEqual(1);
  });

  test.each([
    [{ format: 'jsonl', since: '2026-11-02T00:00:00Z', until: '2026-11-01T00:00:00Z' }, 'until'],
    [{ format: 'jsonl', until: '2026-11-01T00:00:00Z' }, 'since'],
    [{ format: 'xml', since: '2026-11-01T00:00:00Z', until: '2026-11-02T00:00:00Z' }, 'format'],
    [{ format: 'jsonl', since: 'yesterday', until: '2026-11-02T00:00:00Z' }, 'since'],
  ])('%j is 400 BAD_USER_INPUT naming %s', async (params, field) => {
    const result = await get(params as Record<string, string>, await stack.tokens.admin());
    expect(result.status).toBe(400);
    expect(JSON.parse(result.text)).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'BAD_USER_INPUT', field } }] });
  });

  test('subjects are refused, anonymous callers are unauthenticated, tenants cannot pick another tenant', async () => {
    const range = { since: start, until: until() };
    expect((await get(range, await stack.tokens.subject('export-0'))).status).toBe(403);
    const anonymous = await get(range);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const sneaky = await get({ ...range, tenantId: other }, await stack.tokens.tenant(shop, []));
    expect(sneaky.status).toBe(400);
  });
});
