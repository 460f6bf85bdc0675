import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { INTERNAL_TOKEN_HEADER } from '../shared/internal-api';
import { componentLogger } from '../shared/logger';
import type { JobQueue } from '../shared/jobs';
import { checkWebhookUrl, guardedLookup, isPrivateAddress, parseWebhookUrl, type HostResolver } from '../subgraphs/identity/src/services/webhook-url';
import { createWebhookService } from '../subgraphs/identity/src/services/webhook-service';
import { startTestStack, type TestStack } from './kit/stack';
import { auditEvents, codes, createSubject, createTenant, expectNoErrors, grantConsent, PROFILE, rowsContaining, type Subject } from './kit/scenario';
import { WebhookReceiver, type ReceivedWebhook } from './kit/webhook-receiver';

/** The URL policy on its own: production semantics with an injected resolver (no real DNS). */
describe('webhook URL policy', () => {
  const production = { production: true, allowPrivateUrls: false };
  const resolverOf =
    (table: Record<string, string[]>): HostResolver =>
    async (host) => {
      const addresses = table[host];
      if (!addresses) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
  const resolve = resolverOf({
    'shop.example': ['93.184.215.14'],
    'v6.shop.example': ['2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    'internal.shop.example': ['10.1.2.3'],
    'mixed.shop.example': ['93.184.215.14', '192.168.1.20'],
    'metadata.shop.example': ['169.254.169.254'],
    'cgnat.shop.example': ['100.64.0.9'],
    'loop6.shop.example': ['::1'],
    'mapped.shop.example': ['::ffff:127.0.0.1'],
    'ula.shop.example': ['fd12:3456::1'],
    'linklocal6.shop.example': ['fe80::1'],
  });
  const refusedField = async (url: string, policy = production) => {
    try {
      await checkWebhookUrl(url, policy, resolve);
    } catch (error) {
      return (error as { extensions?: { code?: string; field?: string } }).extensions;
    }
    return null;
  };

  test('in production: https to public addresses only; loopback, private, link-local, CGNAT, multicast, unspecified (v4, v6, mapped) refused on input.url', async () => {
    expect(await refusedField('https://shop.example/hooks')).toBeNull();
    expect(await refusedField('https://v6.shop.example/hooks')).toBeNull();
    expect(await refusedField('https://93.184.215.14/hooks')).toBeNull();
    for (const url of [
      'http://shop.example/hooks', // not https
      'https://user:secret@shop.example/hooks', // credentials
      `https://shop.example/${'a'.repeat(2048)}`, // too long
      'https://shop.example/hooks#frag',
      'ftp://shop.example/hooks',
      'not a url',
      'https://internal.shop.example/hooks',
      'https://mixed.shop.example/hooks', // one private address is enough
      'https://metadata.shop.example/latest',
      'https://cgnat.shop.example/hooks',
      'https://loop6.shop.example/hooks',
      'https://mapped.shop.example/hooks',
      'https://ula.shop.example/hooks',
      'https://linklocal6.shop.example/hooks',
      'https://unknown.shop.example/hooks', // does not resolve
      'https://localhost/hooks',
      'https://intranet/hooks',
      'https://127.0.0.1/hooks',
      'https://[::1]/hooks',
      'https://[::ffff:10.0.0.1]/hooks',
      'https://[::ffff:a00:1]/hooks',
      'https://0.0.0.0/hooks',
      'https://224.0.0.1/hooks',
      'https://[ff02::1]/hooks',
      'https://[::]/hooks',
      'https://2130706433/hooks', // 127.0.0.1 as a number
      'https://0x7f.1/hooks',
    ]) {
      expect([url, await refusedField(url)]).toEqual([url, { code: 'BAD_USER_INPUT', field: 'input.url' }]);
    }
  });

  test('WEBHOOK_ALLOW_PRIVATE_URLS allows private addresses in production (still https, no credentials); outside production they are allowed', async () => {
    const allowing = { production: true, allowPrivateUrls: true };
    expect(await refusedField('https://internal.shop.example/hooks', allowing)).toBeNull();
    expect(await refusedField('https://127.0.0.1:8443/hooks', allowing)).toBeNull();
    expect(await refusedField('http://127.0.0.1:8443/hooks', allowing)).toMatchObject({ field: 'input.url' });
    expect(await refusedField('https://u:p@127.0.0.1/hooks', allowing)).toMatchObject({ field: 'input.url' });
    const development = { production: false, allowPrivateUrls: false };
    expect(await refusedField('http://127.0.0.1:8080/hooks', development)).toBeNull();
    expect(await refusedField('http://localhost:8080/hooks', development)).toBeNull();
    expect(() => parseWebhookUrl('http://u:p@localhost/hooks', development)).toThrow();
  });

  test('address classification covers IPv4, IPv6 and IPv4-mapped forms', () => {
    for (const address of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.0.1', '169.254.1.1', '100.64.0.1', '0.0.0.0', '224.0.0.251', '255.255.255.255', '::', '::1', 'fe80::1', 'fc00::1', 'ff02::1', '::ffff:192.168.0.1', '::ffff:7f00:1', '64:ff9b::a00:1', '2002:c0a8:101::1']) {
      expect([address, isPrivateAddress(address)]).toEqual([address, true]);
    }
    for (const address of ['93.184.215.14', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '2002:0808:0808::1']) {
      expect([address, isPrivateAddress(address)]).toEqual([address, false]);
    }
    expect(isPrivateAddress('not-an-ip')).toBe(true);
  });

  test('at delivery time the connection itself refuses a host that now resolves to a private address (DNS rebinding)', async () => {
    const lookup = guardedLookup(production);
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('localhost', {}, (err) => resolve(err)));
    expect(error?.code).toBe('EWEBHOOKADDRESS');
    const allowed = await new Promise<NodeJS.ErrnoException | null>((resolve) => guardedLookup({ production: true, allowPrivateUrls: true })('localhost', {}, (err) => resolve(err)));
    expect(allowed).toBeNull();
  });
});

describe('webhooks to shops', () => {
  let stack: TestStack;
  const internalToken = randomBytes(32).toString('base64url');
  const receivers: WebhookReceiver[] = [];
  let identityDb: DataSource;

  beforeAll(async () => {
    stack = await startTestStack({ env: { WEBHOOK_RETRY_SCHEDULE: '1,1,1', WEBHOOK_TIMEOUT_MS: '1500', INTERNAL_API_TOKEN: internalToken } });
    identityDb = new DataSource({ type: 'postgres', url: process.env.DATABASE_URL, schema: stack.schemas.identity, poolSize: 2 });
    await identityDb.initialize();
  });
  afterAll(async () => {
    for (const receiver of receivers) await receiver.stop();
    await identityDb?.destroy();
    await stack?.stop();
  });

  const receiver = async () => {
    const started = await new WebhookReceiver().start();
    receivers.push(started);
    return started;
  };
  const admin = (tenantId: string) => stack.tokens.tenant(tenantId, ['tenant:admin']);
  const ENDPOINT_FIELDS = 'id url description events status createdAt updatedAt previousSecretExpiresAt';
  const DELIVERY_FIELDS = 'id endpointId eventId eventType status attempts lastHttpStatus lastError lastAttemptAt nextAttemptAt deliveredAt createdAt';
  const CREATE = `mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { ${ENDPOINT_FIELDS} } } }`;

  async function createEndpoint(tenantId: string, url: string, events: string[], description?: string) {
    const response = await stack.gql<{ createWebhookEndpoint: { secret: string; endpoint: Record<string, any> } }>(
      CREATE,
      { i: { url, events, ...(description ? { description } : {}) } },
      { token: await admin(tenantId) },
    );
    expectNoErrors(response);
    return response.data!.createWebhookEndpoint;
  }

  async function deliveryLog(tenantId: string, args: Record<string, unknown> = {}) {
    const response = await stack.gql<{ webhookDeliveries: { edges: { node: Record<string, any> }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(
      `query($e: ID, $s: WebhookDeliveryStatus, $first: Int, $after: String) { webhookDeliveries(endpointId: $e, status: $s, first: $first, after: $after) {
         edges { node { ${DELIVERY_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
      args,
      { token: await admin(tenantId) },
    );
    expectNoErrors(response);
    return response.data!.webhookDeliveries;
  }

  /** Polls the delivery log until `predicate` holds. */
  async function waitForLog(tenantId: string, predicate: (nodes: Record<string, any>[]) => boolean, filter: Record<string, unknown> = {}, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nodes = (await deliveryLog(tenantId, { first: 100, ...filter })).edges.map((e) => e.node);
      if (predicate(nodes)) return nodes;
      if (Date.now() > deadline) throw new Error(`delivery log condition not met: ${JSON.stringify(nodes)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  const withdraw = (subject: Subject, id: string) => stack.gql('mutation($id: ID!) { withdrawConsent(id: $id) { status } }', { id }, { token: subject.token });
  const settle = (ms = 3000) => new Promise((resolve) => setTimeout(resolve, ms));
  const signaturesOf = (request: ReceivedWebhook) => request.headers['webhook-signature'].split(' ');
  const piiValues = [PROFILE.email, PROFILE.phone, PROFILE.givenName, PROFILE.familyName, PROFILE.birthDate, PROFILE.nationalId, PROFILE.address.line1];

  async function postInternal(path: string, body: unknown, token = internalToken) {
    const response = await fetch(`${stack.running.subgraphs[path.includes('/consents/') ? 'consent' : 'identity'].url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: token },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  }

  test('a tenant admin registers, lists, disables, enables and deletes endpoints; the secret is shown once; each change is audited first', async () => {
    const shop = await createTenant(stack, 'Hook Shop');
    const created = await createEndpoint(shop, 'http://127.0.0.1:9/hooks', ['CONSENT_GRANTED', 'SUBJECT_ERASED'], 'orders backend');
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(() => new Webhook(created.secret)).not.toThrow();
    const id = created.endpoint.id;
    // At rest the secret is sealed (AES-256-GCM under WEBHOOK_SECRET_KEY, bound to the endpoint): a dump alone cannot sign.
    const [sealed] = await stack.sql<{ secret: string }>(`SELECT secret FROM "${stack.schemas.identity}".webhook_endpoint WHERE id = $1`, [id]);
    expect(sealed.secret).toMatch(/^sb1:/);
    expect(sealed.secret).not.toContain(created.secret.slice('whsec_'.length, 20));
    expect(created.endpoint).toMatchObject({ url: 'http://127.0.0.1:9/hooks', description: 'orders backend', events: ['CONSENT_GRANTED', 'SUBJECT_ERASED'], status: 'ENABLED', previousSecretExpiresAt: null });
    const token = await admin(shop);
    const listed = await stack.gql(`{ webhookEndpoints { ${ENDPOINT_FIELDS} } }`, {}, { token });
    expect(listed.data?.webhookEndpoints).toEqual([created.endpoint]);
    // The secret cannot be read back: the type has no such field.
    expect(codes(await stack.gql('{ webhookEndpoints { id secret } }', {}, { token }))).toEqual(['GRAPHQL_VALIDATION_FAILED']);

    const disabled = await stack.gql('mutation($id: ID!) { disableWebhookEndpoint(id: $id) { status } }', { id }, { token });
    expect(disabled.data?.disableWebhookEndpoint).toEqual({ status: 'DISABLED' });
    const enabled = await stack.gql('mutation($id: ID!) { enableWebhookEndpoint(id: $id) { status } }', { id }, { token });
    expect(enabled.data?.enableWebhookEndpoint).toEqual({ status: 'ENABLED' });
    const deleted = await stack.gql('mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }', { id }, { token });
    expect(deleted.data?.deleteWebhookEndpoint).toBe(id);
    expect((await stack.gql('{ webhookEndpoints { id } }', {}, { token })).data?.webhookEndpoints).toEqual([]);
    expect(codes(await stack.gql('mutation($id: ID!) { enableWebhookEndpoint(id: $id) { status } }', { id }, { token }))).toEqual(['NOT_FOUND']);
    // Deleting wipes the secrets.
    const [stored] = await stack.sql<{ secret: string | null; status: string }>(`SELECT secret, status FROM "${stack.schemas.identity}".webhook_endpoint WHERE id = $1`, [id]);
    expect(stored).toEqual({ secret: null, status: 'DELETED' });

    const events = await auditEvents(stack, await stack.tokens.admin(), { tenantId: shop });
    expect(events.filter((e) => e.action.startsWith('WEBHOOK_')).map((e) => [e.action, e.field, e.reason]).reverse()).toEqual([
      ['WEBHOOK_ENDPOINT_CREATE', `WebhookEndpoint.${id}`, 'TENANT'],
      ['WEBHOOK_ENDPOINT_UPDATE', `WebhookEndpoint.${id}`, 'TENANT'],
      ['WEBHOOK_ENDPOINT_UPDATE', `WebhookEndpoint.${id}`, 'TENANT'],
      ['WEBHOOK_ENDPOINT_DELETE', `WebhookEndpoint.${id}`, 'TENANT'],
    ]);
  });

  test('bad endpoint input is BAD_USER_INPUT on the field and writes nothing', async () => {
    const shop = await createTenant(stack, 'Strict Hook Shop');
    const token = await admin(shop);
    const refusals: [Record<string, unknown>, string][] = [
      [{ url: 'ftp://127.0.0.1/hooks', events: ['CONSENT_GRANTED'] }, 'input.url'],
      [{ url: 'http://user:pw@127.0.0.1/hooks', events: ['CONSENT_GRANTED'] }, 'input.url'],
      [{ url: `http://127.0.0.1/${'x'.repeat(2050)}`, events: ['CONSENT_GRANTED'] }, 'input.url'],
      [{ url: 'javascript:alert(1)', events: ['CONSENT_GRANTED'] }, 'input.url'],
      [{ url: 'http://127.0.0.1/hooks', events: [] }, 'input.events'],
      [{ url: 'http://127.0.0.1/hooks', events: ['CONSENT_GRANTED'], description: 'd'.repeat(501) }, 'input.description'],
    ];
    for (const [input, field] of refusals) {
      const response = await stack.gql(CREATE, { i: input }, { token });
      expect(response.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect(codes(await stack.gql(CREATE, { i: { url: 'http://127.0.0.1/hooks', events: ['consent.granted'] } }, { token }))).toEqual(['BAD_USER_INPUT']);
    const [{ n }] = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.identity}".webhook_endpoint WHERE tenant_id = $1`, [shop]);
    expect(n).toBe(0);
    const events = await auditEvents(stack, await stack.tokens.admin(), { tenantId: shop });
    expect(events.filter((e) => e.action.startsWith('WEBHOOK_'))).toEqual([]);
  });

  test('a grant and a withdrawal reach the shop as exactly one verified delivery each, with the ref and no personal data', async () => {
    const shop = await createTenant(stack, 'Notified Shop');
    const shopServer = await receiver();
    const { secret, endpoint } = await createEndpoint(shop, shopServer.url, ['CONSENT_GRANTED', 'CONSENT_WITHDRAWN']);
    const subject = await createSubject(stack, 'hook-alice', PROFILE, [shop]);
    const consentId = await grantConsent(stack, subject, { tenantId: shop, purpose: 'order_fulfillment', categories: ['CONTACT', 'ADDRESS'] });
    expectNoErrors(await withdraw(subject, consentId));

    await shopServer.waitFor((r) => r.length >= 2);
    await settle();
    expect(shopServer.received).toHaveLength(2);
    const payloads = shopServer.received.map((request) => WebhookReceiver.verify(secret, request));
    expect(payloads.map((p) => p.type).sort()).toEqual(['consent.granted', 'consent.withdrawn']);
    for (const payload of payloads) {
      expect(payload.data).toMatchObject({ tenantId: shop, ref: subject.refs[shop], consentId, purpose: 'order_fulfillment', categories: ['CONTACT', 'ADDRESS'] });
      expect(new Date(payload.timestamp).toISOString()).toBe(payload.timestamp);
    }
    for (const request of shopServer.received) {
      for (const value of piiValues) expect(request.body).not.toContain(value);
      expect(request.headers['content-type']).toBe('application/json');
    }
    const ids = shopServer.received.map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(2);
    // A wrong secret does not verify.
    expect(() => WebhookReceiver.verify(`whsec_${randomBytes(32).toString('base64')}`, shopServer.received[0])).toThrow();

    const log = (await deliveryLog(shop)).edges.map((e) => e.node);
    expect(log).toHaveLength(2);
    for (const node of log) {
      expect(node).toMatchObject({ endpointId: endpoint.id, status: 'DELIVERED', attempts: 1, lastHttpStatus: 204, lastError: null, nextAttemptAt: null });
      expect(ids).toContain(node.eventId);
    }
    expect(log.map((n) => n.eventType).sort()).toEqual(['CONSENT_GRANTED', 'CONSENT_WITHDRAWN']);
    // consent's outbox rows were relayed; nothing of the person is in any webhook table.
    const outbox = await stack.sql<{ relayed: boolean }>(`SELECT relayed_at IS NOT NULL AS relayed FROM "${stack.schemas.consent}".webhook_outbox WHERE tenant_id = $1`, [shop]);
    expect(outbox).toEqual([{ relayed: true }, { relayed: true }]);
    expect(await rowsContaining(stack, piiValues, ['identity', 'consent'])).toEqual([]);
  });

  test('an endpoint that is down gets retries per the schedule, then the delivery is acknowledged once it is up; the log shows the attempts', async () => {
    const shop = await createTenant(stack, 'Flaky Shop');
    const shopServer = await receiver();
    const { secret } = await createEndpoint(shop, shopServer.url, ['CONSENT_GRANTED']);
    await shopServer.down();
    const subject = await createSubject(stack, 'hook-bob', { email: 'bob@example.com' }, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'] });

    const failing = await waitForLog(shop, (nodes) => nodes.length === 1 && nodes[0].attempts >= 2);
    expect(failing[0]).toMatchObject({ status: 'PENDING', lastError: 'CONNECTION_REFUSED', lastHttpStatus: null, deliveredAt: null });
    expect(failing[0].nextAttemptAt).not.toBeNull();

    shopServer.failNext(1);
    await shopServer.up();
    const [delivered] = await waitForLog(shop, (nodes) => nodes[0].status === 'DELIVERED');
    expect(delivered.attempts).toBeGreaterThanOrEqual(4);
    expect(delivered).toMatchObject({ lastHttpStatus: 204, lastError: null, nextAttemptAt: null });
    // While up: one 500 (retried) and one acknowledged request, the same webhook-id both times, both verified.
    expect(shopServer.received.map((r) => r.answered)).toEqual([500, 204]);
    expect(new Set(shopServer.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivered.eventId]));
    for (const request of shopServer.received) WebhookReceiver.verify(secret, request);
    // The receiver's error body is never stored.
    expect(await rowsContaining(stack, ['secret-internal-detail'], ['identity'])).toEqual([]);

    // Redelivery: the same webhook-id again, audited.
    const token = await admin(shop);
    const redelivered = await stack.gql(`mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { ${DELIVERY_FIELDS} } }`, { id: delivered.id }, { token });
    expectNoErrors(redelivered);
    expect(redelivered.data?.redeliverWebhook).toMatchObject({ id: delivered.id, status: 'PENDING', eventId: delivered.eventId });
    await shopServer.waitFor((r) => r.length === 3);
    const again = shopServer.received[2];
    expect(again.headers['webhook-id']).toBe(delivered.eventId);
    expect(WebhookReceiver.verify(secret, again)).toEqual(WebhookReceiver.verify(secret, shopServer.received[1]));
    const [after] = await waitForLog(shop, (nodes) => nodes[0].status === 'DELIVERED' && nodes[0].attempts === delivered.attempts + 1);
    expect(after.id).toBe(delivered.id);
    const audited = await auditEvents(stack, await stack.tokens.admin(), { tenantId: shop, action: 'WEBHOOK_REDELIVER' });
    expect(audited.map((e) => [e.field, e.reason])).toEqual([[`WebhookDelivery.${delivered.id}`, 'TENANT']]);
  });

  // A lock held by another connection would stall the embedded database's single session as a whole.
  const onPostgres = (process.env.PRIVGRAPH_TEST_DATABASE ?? '').startsWith('postgresql');
  (onPostgres ? test : test.skip)("consent's outbox survives a relay that fails: identity stalls, the relay is retried, the shop gets exactly one webhook", async () => {
    const shop = await createTenant(stack, 'Patient Shop');
    const shopServer = await receiver();
    const { secret } = await createEndpoint(shop, shopServer.url, ['CONSENT_GRANTED']);
    const subject = await createSubject(stack, 'hook-heidi', { email: 'heidi@example.com' }, [shop]);
    // identity's event table is locked (a stalled database): relays time out on the consent side.
    const blocker = new Client({ connectionString: process.env.DATABASE_URL });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE "${stack.schemas.identity}".webhook_event IN ACCESS EXCLUSIVE MODE`);
      const consentId = await grantConsent(stack, subject, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'] });
      const deadline = Date.now() + 30_000;
      const outboxRow = () =>
        stack.sql<{ attempts: number; relayed: boolean }>(
          `SELECT attempts, relayed_at IS NOT NULL AS relayed FROM "${stack.schemas.consent}".webhook_outbox WHERE data->>'consentId' = $1`,
          [consentId],
        );
      while ((await outboxRow())[0]?.attempts < 1) {
        if (Date.now() > deadline) throw new Error('the relay was not attempted');
        await settle(300);
      }
      expect(await outboxRow()).toEqual([{ attempts: expect.any(Number), relayed: false }]);
      expect(shopServer.received).toHaveLength(0);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    await shopServer.waitFor((r) => r.length >= 1);
    await settle(4000);
    expect(shopServer.received).toHaveLength(1);
    expect(WebhookReceiver.verify(secret, shopServer.received[0])).toMatchObject({ type: 'consent.granted', data: { ref: subject.refs[shop] } });
    const rows = await stack.sql<{ relayed: boolean }>(`SELECT relayed_at IS NOT NULL AS relayed FROM "${stack.schemas.consent}".webhook_outbox WHERE tenant_id = $1`, [shop]);
    expect(rows).toEqual([{ relayed: true }]);
    const [{ n }] = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.identity}".webhook_event WHERE tenant_id = $1`, [shop]);
    expect(n).toBe(1);
  });

  test('disabled endpoints and endpoints not subscribed to the type get nothing; filters on the log', async () => {
    const shop = await createTenant(stack, 'Selective Shop');
    const [subscribed, disabledServer, otherType] = [await receiver(), await receiver(), await receiver()];
    const live = await createEndpoint(shop, subscribed.url, ['CONSENT_GRANTED']);
    const off = await createEndpoint(shop, disabledServer.url, ['CONSENT_GRANTED']);
    await createEndpoint(shop, otherType.url, ['SUBJECT_ERASED']);
    const token = await admin(shop);
    expectNoErrors(await stack.gql('mutation($id: ID!) { disableWebhookEndpoint(id: $id) { status } }', { id: off.endpoint.id }, { token }));
    const subject = await createSubject(stack, 'hook-carol', { email: 'carol@example.com' }, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'] });
    await subscribed.waitFor((r) => r.length === 1);
    await settle();
    expect(subscribed.received).toHaveLength(1);
    expect(disabledServer.received).toHaveLength(0);
    expect(otherType.received).toHaveLength(0);
    expect((await deliveryLog(shop, { e: live.endpoint.id })).edges).toHaveLength(1);
    expect((await deliveryLog(shop, { e: off.endpoint.id })).edges).toHaveLength(0);
    expect((await deliveryLog(shop, { s: 'DELIVERED' })).edges).toHaveLength(1);
    expect((await deliveryLog(shop, { s: 'FAILED' })).edges).toHaveLength(0);
  });

  test('a rotated secret: during the overlap both the old and the new secret verify each delivery', async () => {
    const shop = await createTenant(stack, 'Rotating Shop');
    const shopServer = await receiver();
    const { secret: oldSecret, endpoint } = await createEndpoint(shop, shopServer.url, ['CONSENT_GRANTED']);
    const token = await admin(shop);
    const rotated = await stack.gql<{ rotateWebhookSecret: { secret: string; endpoint: { previousSecretExpiresAt: string } } }>(
      'mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { id previousSecretExpiresAt } } }',
      { id: endpoint.id },
      { token },
    );
    expectNoErrors(rotated);
    const { secret: newSecret, endpoint: after } = rotated.data!.rotateWebhookSecret;
    expect(newSecret).not.toBe(oldSecret);
    const overlapHours = (new Date(after.previousSecretExpiresAt).getTime() - Date.now()) / 3_600_000;
    expect(overlapHours).toBeGreaterThan(23.9);
    expect(overlapHours).toBeLessThanOrEqual(24);
    const subject = await createSubject(stack, 'hook-dave', { email: 'dave@example.com' }, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'] });
    const [request] = await shopServer.waitFor((r) => r.length === 1);
    expect(signaturesOf(request)).toHaveLength(2);
    expect(WebhookReceiver.verify(newSecret, request)).toMatchObject({ type: 'consent.granted' });
    expect(WebhookReceiver.verify(oldSecret, request)).toMatchObject({ type: 'consent.granted' });
    const audited = await auditEvents(stack, await stack.tokens.admin(), { tenantId: shop, action: 'WEBHOOK_ENDPOINT_UPDATE' });
    expect(audited.map((e) => e.field)).toEqual([`WebhookEndpoint.${endpoint.id}`]);
  });

  test("tenants are isolated: another tenant's endpoint or delivery is NOT_FOUND and never listed; non-admins are refused", async () => {
    const shop = await createTenant(stack, 'Owner Shop');
    const intruder = await createTenant(stack, 'Intruder Shop');
    const shopServer = await receiver();
    const { endpoint } = await createEndpoint(shop, shopServer.url, ['CONSENT_GRANTED']);
    const subject = await createSubject(stack, 'hook-erin', { email: 'erin@example.com' }, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'] });
    const [delivery] = await waitForLog(shop, (nodes) => nodes.length === 1 && nodes[0].status === 'DELIVERED');

    for (const service of [undefined, 'identity'] as const) {
      const token = await admin(intruder);
      const as = (query: string, variables: Record<string, unknown>) => stack.gql(query, variables, { token, service });
      for (const mutation of ['disableWebhookEndpoint(id: $id) { id }', 'enableWebhookEndpoint(id: $id) { id }', 'rotateWebhookSecret(id: $id) { secret }', 'deleteWebhookEndpoint(id: $id)']) {
        expect([mutation, codes(await as(`mutation($id: ID!) { ${mutation} }`, { id: endpoint.id }))]).toEqual([mutation, ['NOT_FOUND']]);
      }
      expect(codes(await as('mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }', { id: delivery.id }))).toEqual(['NOT_FOUND']);
      expect(codes(await as('mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }', { id: 'not-a-uuid' }))).toEqual(['NOT_FOUND']);
      expect((await as('{ webhookEndpoints { id } }', {})).data?.webhookEndpoints).toEqual([]);
      const log = await as('query($e: ID) { webhookDeliveries(endpointId: $e) { edges { node { id } } } }', { e: endpoint.id });
      expect(log.data?.webhookDeliveries.edges).toEqual([]);
      expect((await as('{ webhookDeliveries { edges { node { id } } } }', {})).data?.webhookDeliveries.edges).toEqual([]);

      const refused: [string | undefined, string][] = [
        [await stack.tokens.tenant(shop, []), 'SCOPE_REQUIRED'],
        [await stack.tokens.tenant(shop, ['pii:contact:read']), 'SCOPE_REQUIRED'],
        [subject.token, 'FORBIDDEN'],
        [await stack.tokens.admin(), 'FORBIDDEN'],
        [undefined, 'UNAUTHENTICATED'],
      ];
      for (const [who, code] of refused) {
        const call = (query: string, variables: Record<string, unknown> = {}) => stack.gql(query, variables, { token: who, service });
        expect(codes(await call('{ webhookEndpoints { id } }'))).toEqual([code]);
        expect(codes(await call('{ webhookDeliveries { edges { node { id } } } }'))).toEqual([code]);
        expect(codes(await call(CREATE, { i: { url: shopServer.url, events: ['CONSENT_GRANTED'] } }))).toEqual([code]);
        expect(codes(await call('mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }', { id: endpoint.id }))).toEqual([code]);
        expect(codes(await call('mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }', { id: delivery.id }))).toEqual([code]);
      }
    }
    // Nothing the refused calls tried took effect.
    expect((await stack.gql(`{ webhookEndpoints { id status } }`, {}, { token: await admin(shop) })).data?.webhookEndpoints).toEqual([{ id: endpoint.id, status: 'ENABLED' }]);
  });

  test('the internal events route is idempotent by id, guarded by the internal token, and refuses nested data', async () => {
    const shop = await createTenant(stack, 'Relay Shop');
    const shopServer = await receiver();
    const { secret } = await createEndpoint(shop, shopServer.url, ['CONSENT_GRANTED']);
    const event = { id: randomUUID(), tenantId: shop, type: 'consent.granted', data: { ref: 'ref-123', consentId: 'c-1' } };
    const first = await postInternal('/internal/v1/webhooks/events', { events: [event] });
    expect(first).toEqual({ status: 200, body: { events: [{ eventId: event.id, deliveries: 1 }] } });
    const replay = await postInternal('/internal/v1/webhooks/events', { events: [event] });
    expect(replay).toEqual({ status: 200, body: { events: [{ eventId: event.id, deliveries: 1 }] } });
    const [request] = await shopServer.waitFor((r) => r.length === 1);
    await settle();
    expect(shopServer.received).toHaveLength(1);
    expect(request.headers['webhook-id']).toBe(event.id);
    expect(WebhookReceiver.verify(secret, request)).toMatchObject({ type: 'consent.granted', data: { tenantId: shop, ref: 'ref-123', consentId: 'c-1' } });
    expect((await postInternal('/internal/v1/webhooks/events', { events: [event] }, 'x'.repeat(40))).status).toBe(401);
    for (const bad of [
      { events: [{ ...event, id: randomUUID(), data: { person: { email: 'x@example.com' } } }] },
      { events: [{ ...event, id: randomUUID(), type: 'user.created' }] },
      // identity's own events cannot be relayed (forged) by a holder of the internal token
      { events: [{ ...event, id: randomUUID(), type: 'subject.erased' }] },
      { events: [{ ...event, id: randomUUID(), type: 'subject.blocked' }] },
      { events: [{ ...event, id: 'evt_not_a_uuid' }] },
      { events: [] },
    ]) {
      expect((await postInternal('/internal/v1/webhooks/events', bad)).status).toBe(400);
    }
    const [{ n }] = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.identity}".webhook_event WHERE tenant_id = $1`, [shop]);
    expect(n).toBe(1);
  });

  test('deliveryStates: the saga reads DELIVERED, NO_ENDPOINT and FAILED (deleted endpoint) per event', async () => {
    const shop = await createTenant(stack, 'Stateful Shop');
    const quiet = await createTenant(stack, 'Quiet Shop');
    const shopServer = await receiver();
    const { endpoint } = await createEndpoint(shop, shopServer.url, ['CONSENT_WITHDRAWN']);
    const unused = (): never => {
      throw new Error('not used by deliveryStates');
    };
    const jobs: JobQueue = { work: unused, send: unused, stop: async () => undefined };
    const reader = createWebhookService({
      dataSource: identityDb,
      jobs,
      now: () => new Date(),
      settings: { allowPrivateUrls: false, production: false, retryScheduleSeconds: [1], timeoutMs: 1000, maxAgeHours: 72, secretKey: 'test-secret-key-of-at-least-32-characters', retentionDays: 30 },
      logger: componentLogger('test.webhooks'),
    });
    const delivered = { id: randomUUID(), tenantId: shop, type: 'consent.withdrawn', data: { ref: 'r1' } };
    const none = { id: randomUUID(), tenantId: quiet, type: 'consent.withdrawn', data: { ref: 'r2' } };
    expect((await postInternal('/internal/v1/webhooks/events', { events: [delivered, none] })).body.events).toEqual([
      { eventId: delivered.id, deliveries: 1 },
      { eventId: none.id, deliveries: 0 },
    ]);
    await shopServer.waitFor((r) => r.length === 1);
    await waitForLog(shop, (nodes) => nodes[0]?.status === 'DELIVERED');
    let states = await reader.deliveryStates([delivered.id, none.id, 'evt_unknown']);
    expect(states.get(delivered.id)).toEqual({ tenantId: shop, state: 'DELIVERED', attempts: 1, lastError: null });
    expect(states.get(none.id)).toEqual({ tenantId: quiet, state: 'NO_ENDPOINT', attempts: 0, lastError: null });
    expect(states.has('evt_unknown')).toBe(false);

    await shopServer.down();
    const pending = { id: randomUUID(), tenantId: shop, type: 'consent.withdrawn', data: { ref: 'r3' } };
    await postInternal('/internal/v1/webhooks/events', { events: [pending] });
    await waitForLog(shop, (nodes) => nodes.some((n) => n.eventId === pending.id && n.attempts >= 1));
    states = await reader.deliveryStates([pending.id]);
    expect(states.get(pending.id)).toMatchObject({ state: 'PENDING', lastError: 'CONNECTION_REFUSED' });
    expectNoErrors(await stack.gql('mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }', { id: endpoint.id }, { token: await admin(shop) }));
    states = await reader.deliveryStates([pending.id]);
    expect(states.get(pending.id)).toMatchObject({ state: 'FAILED', lastError: 'ENDPOINT_DELETED' });
  });

  test('the consent erase route withdraws every active consent with a receipt, audited by SYSTEM, announced to the shops; a repeat withdraws nothing', async () => {
    const [shopA, shopB] = [await createTenant(stack, 'Erase Shop A'), await createTenant(stack, 'Erase Shop B')];
    const [serverA, serverB] = [await receiver(), await receiver()];
    const { secret: secretA } = await createEndpoint(shopA, serverA.url, ['CONSENT_WITHDRAWN']);
    const { secret: secretB } = await createEndpoint(shopB, serverB.url, ['CONSENT_WITHDRAWN']);
    const subject = await createSubject(stack, 'hook-frank', { email: 'frank@example.com' }, [shopA, shopB]);
    const consentA = await grantConsent(stack, subject, { tenantId: shopA, purpose: 'newsletter', categories: ['CONTACT'] });
    const consentB = await grantConsent(stack, subject, { tenantId: shopB, purpose: 'order_fulfillment', categories: ['CONTACT'] });
    const withdrawnBefore = await grantConsent(stack, subject, { tenantId: shopB, purpose: 'analytics', categories: ['CONTACT'] });
    expectNoErrors(await withdraw(subject, withdrawnBefore));
    const [{ subjectId }] = await stack.sql<{ subjectId: string }>(
      `SELECT subject_id AS "subjectId" FROM "${stack.schemas.consent}".consent WHERE id = $1`,
      [consentA],
    );

    expect(await postInternal('/internal/v1/consents/erase', { subjectId })).toEqual({ status: 200, body: { withdrawn: 2 } });
    expect(await postInternal('/internal/v1/consents/erase', { subjectId })).toEqual({ status: 200, body: { withdrawn: 0 } });
    expect((await postInternal('/internal/v1/consents/erase', { subjectId: 'nope' })).status).toBe(400);

    const mine = await stack.gql('{ me { consents { id status receipts { kind } } } }', {}, { token: subject.token });
    const byId = new Map((mine.data?.me.consents as { id: string; status: string; receipts: { kind: string }[] }[]).map((c) => [c.id, c]));
    for (const id of [consentA, consentB, withdrawnBefore]) {
      expect(byId.get(id)).toMatchObject({ status: 'WITHDRAWN', receipts: [{ kind: 'GRANT' }, { kind: 'WITHDRAWAL' }] });
    }
    const receipts = await stack.sql<{ jws: string }>(
      `SELECT jws FROM "${stack.schemas.consent}".consent_receipt WHERE consent_id = ANY ($1::uuid[]) AND kind = 'WITHDRAWAL'`,
      [[consentA, consentB]],
    );
    for (const { jws } of receipts) {
      expect(JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8')).collectionMethod).toBe('erasure');
    }
    const audited = await auditEvents(stack, await stack.tokens.admin(), { action: 'CONSENT_WITHDRAW', actorType: 'SYSTEM' });
    expect(audited.map((e) => e.consentId).sort()).toEqual([consentA, consentB].sort());
    expect(new Set(audited.map((e) => e.reason))).toEqual(new Set(['SYSTEM']));

    const [toA] = await serverA.waitFor((r) => r.length === 1);
    const [toB] = await serverB.waitFor((r) => r.length === 2);
    await settle();
    expect(serverA.received).toHaveLength(1);
    expect(serverB.received).toHaveLength(2);
    expect(WebhookReceiver.verify(secretA, toA).data).toMatchObject({ ref: subject.refs[shopA], consentId: consentA });
    expect(serverB.received.map((r) => WebhookReceiver.verify(secretB, r).data.consentId).sort()).toEqual([consentB, withdrawnBefore].sort());
    expect(toB.headers['webhook-id']).toBeDefined();
  });

  // Moves the stack's clock 73 hours on: keep it the last test of the file.
  test('an endpoint that never answers times out on every attempt; 72 hours after the event the delivery is FAILED; a redelivery then succeeds', async () => {
    const shop = await createTenant(stack, 'Silent Shop');
    const shopServer = await receiver();
    shopServer.hang();
    const { secret, endpoint: silent } = await createEndpoint(shop, shopServer.url, ['CONSENT_GRANTED']);
    const subject = await createSubject(stack, 'hook-grace', { email: 'grace@example.com' }, [shop]);
    await grantConsent(stack, subject, { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'] });
    const [timingOut] = await waitForLog(shop, (nodes) => nodes.length === 1 && nodes[0].attempts >= 1);
    expect(timingOut).toMatchObject({ status: 'PENDING', lastError: 'TIMEOUT', lastHttpStatus: null });

    // A rotation made now: once its 24 hours have passed, only the new secret signs.
    const rotatingServer = await receiver();
    const { secret: oldSecret, endpoint: rotating } = await createEndpoint(shop, rotatingServer.url, ['CONSENT_WITHDRAWN']);
    const rotated = await stack.gql('mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }', { id: rotating.id }, { token: await admin(shop) });
    const newSecret = rotated.data?.rotateWebhookSecret.secret as string;

    stack.clock.advance(73 * 3_600_000);
    const listed = await stack.gql('{ webhookEndpoints { id previousSecretExpiresAt } }', {}, { token: await admin(shop) });
    expect(listed.data?.webhookEndpoints.find((e: { id: string }) => e.id === rotating.id)).toEqual({ id: rotating.id, previousSecretExpiresAt: null });
    await postInternal('/internal/v1/webhooks/events', { events: [{ id: randomUUID(), tenantId: shop, type: 'consent.withdrawn', data: { ref: 'r-withdrawn' } }] });
    const [afterOverlap] = await rotatingServer.waitFor((r) => r.length === 1);
    expect(signaturesOf(afterOverlap)).toHaveLength(1);
    expect(WebhookReceiver.verify(newSecret, afterOverlap)).toMatchObject({ type: 'consent.withdrawn' });
    expect(() => WebhookReceiver.verify(oldSecret, afterOverlap)).toThrow();

    const [failed] = await waitForLog(shop, (nodes) => nodes[0].status === 'FAILED', { e: silent.id });
    expect(failed).toMatchObject({ lastError: 'TIMEOUT', nextAttemptAt: null, deliveredAt: null });
    expect(failed.attempts).toBeGreaterThanOrEqual(2);
    const reader = createWebhookService({
      dataSource: identityDb,
      jobs: { work: async () => undefined, send: async () => null, stop: async () => undefined },
      now: stack.clock.now,
      settings: { allowPrivateUrls: false, production: false, retryScheduleSeconds: [1], timeoutMs: 1000, maxAgeHours: 72, secretKey: 'test-secret-key-of-at-least-32-characters', retentionDays: 30 },
      logger: componentLogger('test.webhooks'),
    });
    expect((await reader.deliveryStates([failed.eventId])).get(failed.eventId)).toMatchObject({ tenantId: shop, state: 'FAILED', lastError: 'TIMEOUT' });
    expect(shopServer.received).toHaveLength(0);

    shopServer.hang(false);
    expectNoErrors(await stack.gql('mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { status } }', { id: failed.id }, { token: await admin(shop) }));
    const [request] = await shopServer.waitFor((r) => r.length === 1);
    expect(request.headers['webhook-id']).toBe(failed.eventId);
    expect(WebhookReceiver.verify(secret, request)).toMatchObject({ type: 'consent.granted', data: { ref: subject.refs[shop] } });
    await waitForLog(shop, (nodes) => nodes[0].status === 'DELIVERED', { e: silent.id });
    expect((await reader.deliveryStates([failed.eventId])).get(failed.eventId)).toMatchObject({ state: 'DELIVERED' });

    // Retention: a month later the settled event and its delivery log are gone; a pending one would stay.
    const countEvents = async () =>
      (await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.identity}".webhook_event WHERE id = $1`, [failed.eventId]))[0].n;
    expect(await countEvents()).toBe(1);
    await reader.sweep();
    expect(await countEvents()).toBe(1);
    stack.clock.advance(31 * 24 * 3_600_000);
    await reader.sweep();
    expect(await countEvents()).toBe(0);
    expect((await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schemas.identity}".webhook_delivery WHERE id = $1`, [failed.id]))[0].n).toBe(0);
  });
});
