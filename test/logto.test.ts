import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEV_ISSUER, loadOrCreateDevIssuerKey, mintDevToken, type DevIssuerKey } from '../shared/auth/dev-issuer';
import { DependencyUnavailableError } from '../shared/errors';
import { startGateway } from '../gateway/src/app';
import { loadGatewayConfig } from '../gateway/src/config';
import { createIdpAccounts, IdpAccountsRefusedError, IdpUnavailableError } from '../subgraphs/identity/src/services/idp-accounts';
import type { IdpAccountsSettings } from '../subgraphs/identity/src/config';
import { logtoUserHook, signLogtoWebhook, startLogtoDouble, type LogtoDouble } from './kit/logto-double';
import { codes, createTenant, expectNoErrors } from './kit/scenario';
import { startTestStack, type TestStack } from './kit/stack';

const SIGNING_KEY = randomBytes(24).toString('base64url');

describe('Logto webhooks (POST /webhooks/logto)', () => {
  let stack: TestStack;
  let url: string;
  beforeAll(async () => {
    stack = await startTestStack({ env: { LOGTO_WEBHOOK_SIGNING_KEY: SIGNING_KEY } });
    url = `${stack.running.gateway.url}/webhooks/logto`;
  });
  afterAll(() => stack?.stop());

  const deliver = async (payload: unknown, options: { key?: string } = {}) => {
    const signed = signLogtoWebhook(options.key ?? SIGNING_KEY, payload);
    const response = await fetch(url, { method: 'POST', headers: signed.headers, body: signed.body });
    return { status: response.status, body: (await response.json()) as any };
  };
  const hmac = (body: string) => createHmac('sha256', SIGNING_KEY).update(body).digest('hex');
  const deliverRaw = async (body: string, signature: string | null) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signature !== null) headers['logto-signature-sha-256'] = signature;
    const response = await fetch(url, { method: 'POST', headers, body });
    return { status: response.status, body: (await response.json()) as any };
  };
  const subjectsOf = (sub: string) =>
    stack.sql<{ id: string; status: string }>(`SELECT id, status FROM "${stack.schemas.identity}".subject WHERE issuer = $1 AND sub = $2`, [DEV_ISSUER, sub]);
  const auditOf = (subjectId: string) =>
    stack.sql<{ action: string; actor_type: string; actor_id: string; field: string | null }>(
      `SELECT action, actor_type, actor_id, field FROM "${stack.schemas.audit}".audit_event WHERE subject_id = $1 ORDER BY seq`,
      [subjectId],
    );
  const auditCount = async (action: string) =>
    Number((await stack.sql<{ n: string }>(`SELECT count(*) AS n FROM "${stack.schemas.audit}".audit_event WHERE action = $1`, [action]))[0].n);

  test('a bad signature is 401 and changes nothing; so is a missing header', async () => {
    const provisionsBefore = await auditCount('SUBJECT_PROVISION');
    const payload = logtoUserHook('User.Created', 'forged-user');
    const forged = await deliver(payload, { key: 'not-the-signing-key-of-this-hook' });
    expect(forged.status).toBe(401);
    expect(forged.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }] });
    const signed = signLogtoWebhook(SIGNING_KEY, payload);
    // A valid signature of another body (one byte changed) is refused too.
    expect((await deliverRaw(signed.body.replace('forged-user', 'forged-usex'), signed.headers['logto-signature-sha-256'])).status).toBe(401);
    expect((await deliverRaw(signed.body, 'zz')).status).toBe(401);
    const missing = await deliverRaw(signed.body, null);
    expect(missing.status).toBe(401);
    expect(missing.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(await subjectsOf('forged-user')).toEqual([]);
    expect(await stack.sql(`SELECT 1 FROM "${stack.schemas.identity}".idp_event`)).toEqual([]);
    expect(await auditCount('SUBJECT_PROVISION')).toBe(provisionsBefore);
  });

  test('a well-signed body that is not JSON, or not a Logto hook event, is 400 BAD_REQUEST', async () => {
    const notJson = '{"event": "User.Created",';
    const malformed = await deliverRaw(notJson, hmac(notJson));
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors[0].extensions.code).toBe('BAD_REQUEST');
    const noHookId = JSON.stringify({ event: 'User.Created', createdAt: new Date().toISOString(), data: { id: 'x' } });
    expect((await deliverRaw(noHookId, hmac(noHookId))).status).toBe(400);
    // A suspension change without the new isSuspended flag cannot be acted on.
    const noFlag = logtoUserHook('User.SuspensionStatus.Updated', 'flagless');
    delete (noFlag.data as Record<string, unknown>).isSuspended;
    expect((await deliver(noFlag)).status).toBe(400);
    expect(await subjectsOf('flagless')).toEqual([]);
    // An oversized body is refused before anything is parsed.
    const huge = logtoUserHook('User.Created', 'huge-user');
    (huge.data as Record<string, unknown>).customData = { padding: 'x'.repeat(600 * 1024) };
    const tooLarge = await deliver(huge);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(await subjectsOf('huge-user')).toEqual([]);
  });

  test('events privgraph does not act on are acknowledged and ignored', async () => {
    for (const event of ['PostSignIn', 'Role.Created', 'User.Data.Updated']) {
      const answered = await deliver(logtoUserHook(event, 'ignored-user'));
      expect(answered).toEqual({ status: 200, body: { ok: true, duplicate: false, ignored: true } });
    }
    expect(await subjectsOf('ignored-user')).toEqual([]);
  });

  test('User.Created provisions the subject once, audited SUBJECT_PROVISION by SYSTEM; a replay is a duplicate and changes nothing', async () => {
    const payload = logtoUserHook('User.Created', 'logto-alice');
    expect(await deliver(payload)).toEqual({ status: 200, body: { ok: true, duplicate: false } });
    const [alice] = await subjectsOf('logto-alice');
    expect(alice.status).toBe('ACTIVE');
    expect(await deliver(payload)).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    expect(await subjectsOf('logto-alice')).toHaveLength(1);
    expect(await auditOf(alice.id)).toEqual([{ action: 'SUBJECT_PROVISION', actor_type: 'SYSTEM', actor_id: 'logto-webhook', field: null }]);
    // The user's own token maps onto that subject (no second one).
    expectNoErrors(await stack.gql('{ me { status } }', {}, { token: await stack.tokens.subject('logto-alice') }));
    expect(await subjectsOf('logto-alice')).toHaveLength(1);
    // Nothing of the payload's personal data is stored with the event.
    const stored = JSON.stringify(await stack.sql(`SELECT * FROM "${stack.schemas.identity}".idp_event`));
    expect(stored).not.toContain('canary.example');
    expect(stored).not.toContain('logto-alice');
  });

  test('User.SuspensionStatus.Updated blocks the subject (its tokens are refused) and a later one reinstates it; stale and replayed changes do nothing', async () => {
    const shop = await createTenant(stack, 'Suspension Shop');
    const createdAt = (offsetMs: number) => new Date(Date.UTC(2026, 0, 1) + offsetMs).toISOString();
    // bob connects to a shop first, then Logto suspends him.
    const bobToken = await stack.tokens.subject('logto-bob');
    const linked = await stack.gql<{ connectTenant: { ref: string } }>('mutation($t: ID!) { connectTenant(tenantId: $t) { ref } }', { t: shop }, { token: bobToken });
    expectNoErrors(linked);
    const bobRef = linked.data!.connectTenant.ref;
    const [bob] = await subjectsOf('logto-bob');
    const suspend = logtoUserHook('User.SuspensionStatus.Updated', 'logto-bob', { isSuspended: true, createdAt: createdAt(1000) });
    expect(await deliver(suspend)).toEqual({ status: 200, body: { ok: true, duplicate: false } });
    expect((await subjectsOf('logto-bob'))[0].status).toBe('BLOCKED');
    expect(await deliver(suspend)).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    // The connected shop is told once, in the same transaction, with the ref it knows (never anything else).
    const told = await stack.sql<{ type: string; data: unknown }>(`SELECT type, data FROM "${stack.schemas.identity}".webhook_event WHERE tenant_id = $1`, [shop]);
    expect(told).toEqual([{ type: 'subject.blocked', data: { tenantId: shop, ref: bobRef } }]);
    expect((await auditOf(bob.id)).filter((e) => e.action === 'SUBJECT_SUSPEND')).toEqual([
      { action: 'SUBJECT_SUSPEND', actor_type: 'SYSTEM', actor_id: 'logto-webhook', field: 'Subject.BLOCKED' },
    ]);

    // carol's first request comes after her suspension (no cached directory entry): refused as blocked.
    expect((await deliver(logtoUserHook('User.Created', 'logto-carol', { createdAt: createdAt(0) }))).status).toBe(200);
    expect((await deliver(logtoUserHook('User.SuspensionStatus.Updated', 'logto-carol', { isSuspended: true, createdAt: createdAt(1000) }))).status).toBe(200);
    const refused = await stack.gql('{ me { status } }', {}, { token: await stack.tokens.subject('logto-carol') });
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.errors?.[0].message).toMatch(/blocked/i);

    // dave is suspended and reinstated before his first request: it is served.
    expect((await deliver(logtoUserHook('User.SuspensionStatus.Updated', 'logto-dave', { isSuspended: true, createdAt: createdAt(1000) }))).status).toBe(200);
    expect((await subjectsOf('logto-dave'))[0].status).toBe('BLOCKED');
    expect(await deliver(logtoUserHook('User.SuspensionStatus.Updated', 'logto-dave', { isSuspended: false, createdAt: createdAt(2000) }))).toEqual({
      status: 200,
      body: { ok: true, duplicate: false },
    });
    expect((await subjectsOf('logto-dave'))[0].status).toBe('ACTIVE');
    // A suspension older than the reinstatement, delivered late, does not block him again.
    expect((await deliver(logtoUserHook('User.SuspensionStatus.Updated', 'logto-dave', { isSuspended: true, createdAt: createdAt(1500) }))).status).toBe(200);
    expect((await subjectsOf('logto-dave'))[0].status).toBe('ACTIVE');
    const [dave] = await subjectsOf('logto-dave');
    expect((await auditOf(dave.id)).map((e) => [e.action, e.field])).toEqual([
      ['SUBJECT_PROVISION', null],
      ['SUBJECT_SUSPEND', 'Subject.BLOCKED'],
      ['SUBJECT_SUSPEND', 'Subject.ACTIVE'],
    ]);
    expectNoErrors(await stack.gql('{ me { status } }', {}, { token: await stack.tokens.subject('logto-dave') }));
  });

  test('User.Deleted opens an erasure request for a known subject (once), which completes; a user never seen here creates nothing', async () => {
    const unknown = await deliver(logtoUserHook('User.Deleted', 'never-seen'));
    expect(unknown).toEqual({ status: 200, body: { ok: true, duplicate: false } });
    expect(await subjectsOf('never-seen')).toEqual([]);

    const token = await stack.tokens.subject('logto-erin');
    expectNoErrors(await stack.gql('{ me { status } }', {}, { token }));
    const [erin] = await subjectsOf('logto-erin');
    const deleted = logtoUserHook('User.Deleted', 'logto-erin');
    expect(await deliver(deleted)).toEqual({ status: 200, body: { ok: true, duplicate: false } });
    expect(await deliver(deleted)).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    const requests = await stack.sql<{ kind: string; opened_by: string; reason: string | null }>(
      `SELECT kind, opened_by, reason FROM "${stack.schemas.identity}".data_subject_request WHERE subject_id = $1`,
      [erin.id],
    );
    expect(requests).toEqual([{ kind: 'ERASURE', opened_by: 'IDP', reason: 'idp_user_deleted' }]);
    // The erasure runs to completion; the identity-provider step needs no call (Logto deleted the account itself).
    const deadline = Date.now() + 45_000;
    let done: { completed_at: Date | null; status: string }[] = [];
    while (Date.now() < deadline) {
      done = await stack.sql(`SELECT completed_at, status FROM "${stack.schemas.identity}".data_subject_request WHERE subject_id = $1`, [erin.id]);
      if (done[0]?.completed_at) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(done[0]).toEqual({ completed_at: expect.any(Date), status: 'COMPLETED' });
    const [tombstone] = await stack.sql<{ status: string }>(`SELECT status FROM "${stack.schemas.identity}".subject WHERE id = $1`, [erin.id]);
    expect(tombstone.status).toBe('ERASED');
    const idpStep = await stack.sql<{ status: string }>(
      `SELECT s.status FROM "${stack.schemas.identity}".dsr_step s JOIN "${stack.schemas.identity}".data_subject_request r ON r.id = s.request_id WHERE r.subject_id = $1 AND s.system = 'identity_provider'`,
      [erin.id],
    );
    expect(idpStep).toEqual([{ status: 'DONE' }]);
    // A late replay of the deletion changes nothing: still one request, no new subject.
    expect(await deliver(deleted)).toEqual({ status: 200, body: { ok: true, duplicate: true } });
    expect(await subjectsOf('logto-erin')).toEqual([]);
    expect(await stack.sql(`SELECT 1 FROM "${stack.schemas.identity}".data_subject_request WHERE subject_id = $1`, [erin.id])).toHaveLength(1);
  });

  test('with identity down the webhook answers 503 and records nothing; the same delivery sent again is handled', async () => {
    const payload = logtoUserHook('User.Created', 'logto-retry');
    // A gateway whose identity service is unreachable (a closed port).
    const gateway = await startGateway(
      loadGatewayConfig({
        NODE_ENV: 'test',
        PRIVGRAPH_DATA_DIR: stack.dataDir,
        INTERNAL_API_TOKEN: 'x'.repeat(32),
        LOGTO_WEBHOOK_SIGNING_KEY: SIGNING_KEY,
        IDENTITY_URL: 'http://127.0.0.1:9',
        PORT: '0',
      }),
    );
    try {
      const signed = signLogtoWebhook(SIGNING_KEY, payload);
      const response = await fetch(`${gateway.url}/webhooks/logto`, { method: 'POST', headers: signed.headers, body: signed.body });
      expect(response.status).toBe(503);
      expect(((await response.json()) as any).errors[0].extensions.code).toBe('DEPENDENCY_UNAVAILABLE');
    } finally {
      await gateway.stop();
    }
    expect(await subjectsOf('logto-retry')).toEqual([]);
    expect(await deliver(payload)).toEqual({ status: 200, body: { ok: true, duplicate: false } });
    expect(await subjectsOf('logto-retry')).toHaveLength(1);
  });

  test('without LOGTO_WEBHOOK_SIGNING_KEY the route answers 404 saying it is not configured', async () => {
    const gateway = await startGateway(
      loadGatewayConfig({ NODE_ENV: 'test', PRIVGRAPH_DATA_DIR: stack.dataDir, INTERNAL_API_TOKEN: 'x'.repeat(32), PORT: '0' }),
    );
    try {
      const signed = signLogtoWebhook(SIGNING_KEY, logtoUserHook('User.Created', 'nobody'));
      const response = await fetch(`${gateway.url}/webhooks/logto`, { method: 'POST', headers: signed.headers, body: signed.body });
      expect(response.status).toBe(404);
      const body = (await response.json()) as any;
      expect(body.errors[0].extensions.code).toBe('NOT_FOUND');
      expect(body.errors[0].message).toMatch(/not configured/);
    } finally {
      await gateway.stop();
    }
  });
});

describe('Logto Management API client (erasure saga, identity-provider step)', () => {
  let logto: LogtoDouble;
  beforeAll(async () => {
    logto = await startLogtoDouble();
  });
  afterAll(() => logto?.stop());

  const settings = (overrides: Partial<IdpAccountsSettings> = {}): IdpAccountsSettings => ({
    endpoint: logto.endpoint,
    appId: logto.appId,
    appSecret: logto.appSecret,
    resource: logto.resource,
    timeoutMs: 2000,
    ...overrides,
  });

  test('deletes a user (204 → DELETED), an unknown one is ABSENT (404), and one token serves both calls', async () => {
    logto.users.add('u-alpha');
    const accounts = createIdpAccounts(settings());
    expect(accounts.configured).toBe(true);
    expect(accounts.whyNot).toBeNull();
    const tokensBefore = logto.tokensIssued();
    expect(await accounts.deleteUser('u-alpha')).toBe('DELETED');
    expect(logto.users.has('u-alpha')).toBe(false);
    expect(await accounts.deleteUser('u-alpha')).toBe('ABSENT');
    expect(logto.tokensIssued() - tokensBefore).toBe(1);
    expect(logto.calls.slice(-2).map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual(['DELETE /api/users/u-alpha 204', 'DELETE /api/users/u-alpha 404']);
  });

  test('a revoked token is replaced once; 500 and an unreachable Logto are retryable dependency errors', async () => {
    const accounts = createIdpAccounts(settings());
    logto.users.add('u-beta');
    expect(await accounts.deleteUser('nobody-here')).toBe('ABSENT');
    logto.revokeTokens();
    expect(await accounts.deleteUser('u-beta')).toBe('DELETED');

    logto.users.add('u-gamma');
    logto.fail500(1);
    const failed = await accounts.deleteUser('u-gamma').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(IdpUnavailableError);
    expect(failed).toBeInstanceOf(DependencyUnavailableError);
    expect(logto.users.has('u-gamma')).toBe(true);
    logto.setDown(true);
    await expect(accounts.deleteUser('u-gamma')).rejects.toBeInstanceOf(DependencyUnavailableError);
    logto.setDown(false);
    expect(await accounts.deleteUser('u-gamma')).toBe('DELETED');
  });

  test('refused credentials and a wrong resource are clear, non-retryable errors that never quote the secret', async () => {
    const wrongSecret = 'wrong-secret-value-1234567890';
    const refused = await createIdpAccounts(settings({ appSecret: wrongSecret }))
      .deleteUser('u-delta')
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(IdpAccountsRefusedError);
    expect(refused).not.toBeInstanceOf(DependencyUnavailableError);
    expect((refused as IdpAccountsRefusedError).status).toBe(401);
    expect((refused as Error).message).toContain('invalid_client');
    expect((refused as Error).message).not.toContain(wrongSecret);
    expect((refused as Error).message).not.toContain(logto.appSecret);
    const wrongResource = await createIdpAccounts(settings({ resource: 'https://example.com/api' }))
      .deleteUser('u-delta')
      .catch((e: unknown) => e);
    expect((wrongResource as Error).message).toContain('invalid_target');
  });

  test('not configured: whyNot names the missing variables', () => {
    const none = createIdpAccounts(null);
    expect(none.configured).toBe(false);
    expect(none.whyNot).toBe('missing LOGTO_MANAGEMENT_ENDPOINT or LOGTO_ENDPOINT, LOGTO_M2M_APP_ID, LOGTO_M2M_APP_SECRET');
    const noSecret = createIdpAccounts(settings({ appSecret: null }));
    expect(noSecret.configured).toBe(false);
    expect(noSecret.whyNot).toBe('missing LOGTO_M2M_APP_SECRET');
  });
});

/**
 * Logto as the deployment's issuer (LOGTO_ENDPOINT, its JWKS served by the double): the webhook binds
 * users to `<endpoint>/oidc`, the same subject their tokens map onto, and a user's own erasure deletes
 * the account at Logto through the Management API (the saga's identity-provider step).
 */
describe('with Logto as the issuer', () => {
  const AUDIENCE = 'https://api.privgraph.test';
  let logto: LogtoDouble;
  let stack: TestStack;
  let key: DevIssuerKey;
  let keyDir: string;
  let issuer: string;
  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'privgraph-logto-key-'));
    key = await loadOrCreateDevIssuerKey(keyDir);
    logto = await startLogtoDouble({ jwks: key.jwks });
    issuer = `${logto.endpoint}/oidc`;
    stack = await startTestStack({
      env: {
        LOGTO_ENDPOINT: logto.endpoint,
        AUTH_AUDIENCE: AUDIENCE,
        LOGTO_M2M_APP_ID: logto.appId,
        LOGTO_M2M_APP_SECRET: logto.appSecret,
        LOGTO_WEBHOOK_SIGNING_KEY: SIGNING_KEY,
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await logto?.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  test('User.Created binds the Logto user to the subject their tokens use; their own erasure deletes the account at Logto', async () => {
    const userId = `lg${randomBytes(6).toString('hex')}`;
    logto.users.add(userId);
    const signed = signLogtoWebhook(SIGNING_KEY, logtoUserHook('User.Created', userId));
    const delivered = await fetch(`${stack.running.gateway.url}/webhooks/logto`, { method: 'POST', headers: signed.headers, body: signed.body });
    expect(delivered.status).toBe(200);
    const bound = () =>
      stack.sql<{ id: string; status: string }>(`SELECT id, status FROM "${stack.schemas.identity}".subject WHERE issuer = $1 AND sub = $2`, [issuer, userId]);
    const [subject] = await bound();
    expect(subject.status).toBe('ACTIVE');

    const token = await mintDevToken(key, { sub: userId, issuer, audience: AUDIENCE, scopes: ['openid', 'profile'] });
    expectNoErrors(await stack.gql('{ me { status } }', {}, { token }));
    expect(await bound()).toEqual([subject]);

    const opened = await stack.gql<{ requestErasure: { id: string } }>('mutation { requestErasure { id } }', {}, { token });
    expectNoErrors(opened);
    const deadline = Date.now() + 45_000;
    let request: { completed_at: Date | null }[] = [];
    while (Date.now() < deadline) {
      request = await stack.sql(`SELECT completed_at FROM "${stack.schemas.identity}".data_subject_request WHERE id = $1`, [opened.data!.requestErasure.id]);
      if (request[0]?.completed_at) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(request[0]?.completed_at).toEqual(expect.any(Date));
    const [step] = await stack.sql<{ status: string; detail: string }>(
      `SELECT status, detail FROM "${stack.schemas.identity}".dsr_step WHERE request_id = $1 AND system = 'identity_provider'`,
      [opened.data!.requestErasure.id],
    );
    expect(step.status).toBe('DONE');
    expect(logto.users.has(userId)).toBe(false);
    expect(logto.calls.filter((c) => c.method === 'DELETE')).toEqual([{ method: 'DELETE', path: `/api/users/${userId}`, status: 204 }]);
    // Logto then reports the deletion: already erased here, nothing more happens.
    const reported = signLogtoWebhook(SIGNING_KEY, logtoUserHook('User.Deleted', userId));
    const answer = await fetch(`${stack.running.gateway.url}/webhooks/logto`, { method: 'POST', headers: reported.headers, body: reported.body });
    expect(answer.status).toBe(200);
    expect(await stack.sql(`SELECT 1 FROM "${stack.schemas.identity}".data_subject_request WHERE subject_id = $1`, [subject.id])).toHaveLength(1);
  });
});
