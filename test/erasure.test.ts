import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestStack } from './kit/stack';
import type { WebhookReceiver as Receiver } from './kit/webhook-receiver';

/*
 * Erasure end to end (GDPR Art. 17 and 19): the saga reaches every store, survives its worker being
 * killed mid-way, tells every shop exactly once, and afterwards nothing anywhere — a full database
 * dump, the service log, any query — holds a trace of the person.
 */

// The service log goes to a file this test reads back; set before the services are loaded.
const logDir = mkdtempSync(join(tmpdir(), 'privgraph-erasure-log-'));
process.env.PRIVGRAPH_LOG_FILE = join(logDir, 'services.log');
process.env.LOG_LEVEL = 'debug';

const { startTestStack } = require('./kit/stack') as typeof import('./kit/stack');
const { WebhookReceiver } = require('./kit/webhook-receiver') as typeof import('./kit/webhook-receiver');
const scenario = require('./kit/scenario') as typeof import('./kit/scenario');
const { codes, createSubject, createTenant, expectNoErrors, grantConsent, PROFILE } = scenario;

const CANARY = { ...PROFILE, email: 'canary.erasure@example.com', givenName: 'Zebulon', familyName: 'Erasmusson', nationalId: 'CANARY0815', phone: '+49 30 9876543' };
const NEEDLES = [CANARY.email, 'Zebulon', 'Erasmusson', 'CANARY0815', '+49309876543', '9876543'];

const FAST = {
  WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1,1',
  DSR_RECHECK_SECONDS: '1',
  DSR_SWEEP_INTERVAL_MS: '1000',
  DSR_STEP_TIMEOUT_SECONDS: '3',
  JOBS_POLL_SECONDS: '0.5',
  JOBS_MAINTENANCE_SECONDS: '1',
};

const REQUEST = `id kind status origin dueAt overdue legalHold completedAt systems { system status attempts lastError detail completedAt }`;

async function waitForRequest(stack: TestStack, id: string, done: (r: any) => boolean, timeoutMs = 60_000): Promise<any> {
  const admin = await stack.tokens.admin();
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    const response = await stack.gql(`query($id: ID!) { dataSubjectRequest(id: $id) { ${REQUEST} } }`, { id }, { token: admin });
    expectNoErrors(response);
    last = response.data!.dataSubjectRequest;
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`request did not get there in time: ${JSON.stringify(last)}`);
}

async function registerEndpoint(stack: TestStack, tenantId: string, receiver: Receiver): Promise<string> {
  const shopAdmin = await stack.tokens.tenant(tenantId, ['tenant:admin']);
  const created = await stack.gql(
    'mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }',
    { i: { url: receiver.url, events: ['SUBJECT_ERASURE_REQUESTED', 'SUBJECT_ERASED'] } },
    { token: shopAdmin },
  );
  expectNoErrors(created);
  return created.data!.createWebhookEndpoint.secret;
}

const isPostgres = () => (process.env.PRIVGRAPH_TEST_DATABASE ?? '').startsWith('postgresql');

describe('erasure end to end', () => {
  let stack: TestStack;
  const shopA = new WebhookReceiver();
  const shopB = new WebhookReceiver();

  beforeAll(async () => {
    await shopA.start();
    await shopB.start();
  });

  afterAll(async () => {
    await stack?.stop();
    await shopA.stop();
    await shopB.stop();
    rmSync(logDir, { recursive: true, force: true });
  });

  test('the worker killed mid-saga resumes; every store forgets the person; each shop gets one verified subject.erased; the chain verifies', async () => {
    let crash: (() => void) | undefined;
    const crashed = new Promise<void>((resolve) => (crash = resolve));
    let hang = true;
    stack = await startTestStack({
      env: FAST,
      identity: {
        rightsHooks: {
          // The worker dies in the middle of the vault step: the step never finishes in this process.
          beforeStep: async (system) => {
            if (system === 'pii' && hang) {
              crash?.();
              await new Promise(() => undefined);
            }
          },
        },
      },
    });
    const tenantA = await createTenant(stack, 'Shop A');
    const tenantB = await createTenant(stack, 'Shop B');
    const secretA = await registerEndpoint(stack, tenantA, shopA);
    const secretB = await registerEndpoint(stack, tenantB, shopB);
    const alice = await createSubject(stack, 'erasure-alice', CANARY, [tenantA, tenantB]);
    await grantConsent(stack, alice, { tenantId: tenantA, purpose: 'order_fulfillment', categories: ['CONTACT', 'IDENTITY'] });
    const shopToken = await stack.tokens.tenant(tenantA, ['pii:contact:read']);
    const read = await stack.gql('query($r: ID!) { user(ref: $r) { email } }', { r: alice.refs[tenantA] }, { token: shopToken, purpose: 'order_fulfillment' });
    expect(read.data?.user).toEqual({ email: CANARY.email });

    // Shop B is down for the whole erasure at first: its notices must be retried, not lost.
    await shopB.down();
    const opened = await stack.gql(`mutation { requestErasure(reason: "consent_withdrawn") { ${REQUEST} } }`, {}, { token: alice.token });
    expectNoErrors(opened);
    const request = opened.data!.requestErasure;
    expect(request).toMatchObject({ kind: 'ERASURE', status: 'RECEIVED', origin: 'SUBJECT', overdue: false, completedAt: null });
    expect(request.systems.map((s: { system: string }) => s.system)).toEqual(['consent', 'identity', 'pii', 'identity_provider', 'shops', 'audit']);
    // A second request while one is open is the same request.
    const again = await stack.gql('mutation { requestErasure { id } }', {}, { token: alice.token });
    expect(again.data?.requestErasure.id).toBe(request.id);

    await crashed;
    const midway = await waitForRequest(stack, request.id, (r) => r.systems[2].status === 'RUNNING');
    expect(midway.systems.slice(0, 2).map((s: { status: string }) => s.status)).toEqual(['DONE', 'DONE']);
    // Kill: stop the services while the step hangs; its job stays taken by a worker that is gone.
    await stack.halt();
    hang = false;
    stack = await startTestStack({ env: FAST, reuse: stack.reuse });

    await new Promise((resolve) => setTimeout(resolve, 2500));
    await shopB.up();
    const done = await waitForRequest(stack, request.id, (r) => r.status === 'COMPLETED', 60_000);
    const status = Object.fromEntries(done.systems.map((s: { system: string; status: string }) => [s.system, s.status]));
    expect(status).toEqual({ consent: 'DONE', identity: 'DONE', pii: 'DONE', identity_provider: 'SKIPPED', shops: 'DONE', audit: 'DONE' });
    expect(done.systems.find((s: { system: string }) => s.system === 'pii').attempts).toBeGreaterThanOrEqual(2);
    expect(done.systems.find((s: { system: string }) => s.system === 'pii').detail).toMatch(/data keys destroyed: 1; ciphertexts deleted: 7/);

    // Each shop: exactly one verified subject.erased with the ref it knew, after the erasure_requested notice.
    for (const [shop, secret, tenantId] of [[shopA, secretA, tenantA], [shopB, secretB, tenantB]] as const) {
      const erased = shop
        .acknowledged()
        .map((r) => ({ id: r.headers['webhook-id'], body: WebhookReceiver.verify(secret, r) }))
        .filter((r) => r.body.type === 'subject.erased');
      expect(new Set(erased.map((e) => e.id)).size).toBe(1);
      expect(erased[0].body.data).toMatchObject({ tenantId, ref: alice.refs[tenantId], erasureId: expect.stringMatching(/^era_/) });
      // Nothing in a notice is the same for two shops (they could link their refs): not the request's id, nor the ids.
      expect(JSON.stringify(shop.received.map((r) => [r.headers['webhook-id'], r.body]))).not.toContain(request.id);
      const requested = shop.acknowledged().map((r) => WebhookReceiver.verify(secret, r)).filter((b) => b.type === 'subject.erasure_requested');
      expect(requested).toHaveLength(1);
      for (const received of shop.received) for (const needle of NEEDLES) expect(received.body).not.toContain(needle);
    }
    const erasureIdOf = (shop: Receiver, secret: string) =>
      shop.acknowledged().map((r) => WebhookReceiver.verify(secret, r)).find((b) => b.type === 'subject.erased')!.data.erasureId;
    expect(erasureIdOf(shopA, secretA)).not.toBe(erasureIdOf(shopB, secretB));
    // Shop B was down: its first attempts failed and were retried.
    expect(shopB.received.length).toBeGreaterThanOrEqual(2);

    // The shop can no longer find the person; the person's next sign-in is a new, empty account.
    expect(codes(await stack.gql('query($r: ID!) { user(ref: $r) { ref } }', { r: alice.refs[tenantA] }, { token: shopToken, purpose: 'order_fulfillment' }))).toEqual(['NOT_FOUND']);
    const fresh = await stack.tokens.subject('erasure-alice');
    const me = await stack.gql('{ me { email givenName region } myTenantLinks { ref } myDataSubjectRequests { id } }', {}, { token: fresh });
    expectNoErrors(me);
    expect(me.data).toEqual({ me: { email: null, givenName: null, region: null }, myTenantLinks: [], myDataSubjectRequests: [] });

    // Not even a platform admin's exact-match lookup finds the person any more.
    const admin = await stack.tokens.admin();
    const lookup = await stack.gql('query($e: String!) { subjectsByEmail(email: $e, reason: "erasure-check") { subjectId } }', { e: CANARY.email }, { token: admin });
    expectNoErrors(lookup);
    expect(lookup.data?.subjectsByEmail).toEqual([]);

    // The audit chain still verifies; the saga's transitions are in it.
    const verified = await stack.gql('{ verifyAuditLog { ok problem } }', {}, { token: admin });
    expect(verified.data?.verifyAuditLog).toEqual({ ok: true, problem: null });
    const transitions = await stack.sql<{ field: string }>(`SELECT field FROM "${stack.schema('audit')}".audit_event WHERE action = 'DSR_TRANSITION' ORDER BY seq`);
    expect(transitions.map((t) => t.field)).toEqual(expect.arrayContaining(['DataSubjectRequest.IN_PROGRESS', 'Erasure.pii.DONE', 'Erasure.shops.DONE', 'DataSubjectRequest.COMPLETED']));

    // No trace of the canary: in any table, in a full dump of every schema, in the service log.
    expect(await scenario.rowsContaining(stack, NEEDLES)).toEqual([]);
    if (isPostgres()) {
      const dump = execFileSync('pg_dump', ['--no-owner', '-n', `${stack.schema('')}*`, process.env.DATABASE_URL!], {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      expect(dump.length).toBeGreaterThan(1000);
      for (const needle of NEEDLES) expect(dump).not.toContain(needle);
    }
    const log = readFileSync(process.env.PRIVGRAPH_LOG_FILE!, 'utf8');
    expect(log.length).toBeGreaterThan(0);
    for (const needle of NEEDLES) expect(log).not.toContain(needle);
  }, 150_000);
});
