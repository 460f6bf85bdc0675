import { once } from 'node:events';
import http from 'node:http';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { GraphQLError } from 'graphql';
import { startGateway } from '../gateway/src/app';
import { loadGatewayConfig } from '../gateway/src/config';
import { DataSource } from 'typeorm';
import type { AuditEventInput, AuditSink } from '../shared/audit/events';
import { appendBudget, type DeadlineBoundSink } from '../shared/audit/recorder';
import { Deadline, DEADLINE_HEADER, deadlineFrom, parseDeadlineHeader, withinDeadline } from '../shared/deadline';
import { createErrorFormatter } from '../shared/errors';
import { componentLogger } from '../shared/logger';
import { startTestStack, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, expectNoErrors, grantConsent, policyVersionFor, subjectIdByEmail, type Subject } from './kit/scenario';

const READ = 'query($r: ID!) { user(ref: $r) { email } }';
const ENTITIES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email } } }';
const EMAIL = 'deadline.reader@example.com';

/**
 * Deadlines end to end (docs/security.md#deadlines): a request's budget is fixed at the gateway, passed on as what is
 * left, and enforced where the work happens; past it the caller gets DEADLINE_EXCEEDED and never a PII value.
 */
/**
 * The embedded PGlite accepts statement_timeout and lock_timeout but ignores them (its one WASM session serves every
 * connection), so the tests of those database timeouts run on PostgreSQL only.
 */
const onPostgres = (process.env.PRIVGRAPH_TEST_DATABASE ?? '').startsWith('postgresql');
const testOnPostgres = onPostgres ? test : test.skip;

describe('deadlines', () => {
  let stack: TestStack;
  let shop: string;
  let reader: Subject;
  let subjectId: string;
  let cms: string;
  let locker: Client;
  let requestSeq = 0;
  /**
   * Requests whose audit answer the pii side receives only after their deadline has passed: the batch is committed,
   * then held `ms` (longer than the request's budget) before the pii side sees it, so the deadline passes in between.
   */
  const answerLate = new Map<string, number>();
  /** How many appends carried outcome events, by request id. */
  const outcomeAppends = new Map<string, number>();
  const holdAnswers = (sink: AuditSink): AuditSink => {
    const real = sink as AuditSink & DeadlineBoundSink;
    const hold = async (events: AuditEventInput[]) => {
      for (const id of new Set(events.filter((e) => e.outcome).map((e) => e.requestId))) outcomeAppends.set(id, (outcomeAppends.get(id) ?? 0) + 1);
      const ms = Math.max(0, ...events.filter((e) => !e.outcome).map((e) => answerLate.get(e.requestId) ?? 0));
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    };
    const held: AuditSink & DeadlineBoundSink = {
      append: async (events) => {
        await real.append(events);
        await hold(events);
      },
      appendWithin: async (events, deadline) => {
        await real.appendWithin(events, deadline);
        await hold(events);
      },
    };
    return held;
  };

  beforeAll(async () => {
    stack = await startTestStack({
      pii: { wrapAudit: holdAnswers },
      env: {
        // The pools' ceiling on lock waits, short enough to see it answer (requests here state shorter budgets).
        DB_LOCK_TIMEOUT_MS: '1500',
        // Slow clients: headers within 400 ms, the whole request within 800 ms.
        HTTP_HEADERS_TIMEOUT_MS: '400',
        HTTP_REQUEST_TIMEOUT_MS: '800',
      },
    });
    shop = await createTenant(stack, 'Deadline Shop');
    reader = await createSubject(stack, 'deadline-reader', { email: EMAIL }, [shop]);
    await grantConsent(stack, reader, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
    subjectId = await subjectIdByEmail(stack, EMAIL);
    cms = await stack.tokens.tenant(shop, ['pii:contact:read']);
    locker = new Client({ connectionString: process.env.DATABASE_URL });
    await locker.connect();
  });
  afterAll(async () => {
    await locker?.query('ROLLBACK').catch(() => undefined);
    await locker?.end();
    await stack?.stop();
  });

  const requestId = () => `deadline-test-${process.pid}-${(requestSeq += 1)}`;

  /** Holds ACCESS EXCLUSIVE on the table every PII read needs (the region store's fields) until `release()`. */
  const lockFields = async () => {
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${stack.schema('pii_eu')}".pii_field IN ACCESS EXCLUSIVE MODE`);
    return { release: () => locker.query('ROLLBACK') };
  };

  const readEvents = (id: string) =>
    stack.sql<{ action: string; decision: string; field: string | null; reason: string; outcome: string | null }>(
      `SELECT action, decision, field, reason, outcome FROM "${stack.schemas.audit}".audit_event WHERE request_id = $1 ORDER BY seq`,
      [id],
    );

  const readThroughGateway = (headers: Record<string, string>) => stack.gql(READ, { r: reader.refs[shop] }, { token: cms, purpose: 'crm', headers });
  const readOnPiiPort = (headers: Record<string, string>) =>
    stack.gql(ENTITIES, { r: [{ __typename: 'User', id: subjectId }] }, { token: cms, purpose: 'crm', headers, service: 'pii' });

  test('a consented read finishes well within the default budget, with the value', async () => {
    const response = await readThroughGateway({});
    expectNoErrors(response);
    expect(response.status).toBe(200);
    expect(response.data?.user.email).toBe(EMAIL);
  });

  test('with the PII table locked, a read through the gateway with a short deadline answers 504 DEADLINE_EXCEEDED and no value', async () => {
    const lock = await lockFields();
    const id = requestId();
    let response;
    try {
      response = await readThroughGateway({ [DEADLINE_HEADER]: '600', 'x-request-id': id });
    } finally {
      await lock.release();
    }
    expect(response.status).toBe(504);
    expect(codes(response)).toContain('DEADLINE_EXCEEDED');
    expect(JSON.stringify(response)).not.toContain(EMAIL);
    expect(response.data?.user?.email ?? null).toBeNull();
    // Once the lock is gone: no event says the value was released by that request.
    const events = await readEvents(id);
    expect(events.filter((e) => e.action === 'PII_READ' && e.decision === 'ALLOW')).toEqual([]);
    // …and the same read now succeeds.
    expect((await readThroughGateway({})).data?.user.email).toBe(EMAIL);
  });

  test('the same on the pii port directly: its own header bounds the read', async () => {
    const lock = await lockFields();
    const id = requestId();
    let response;
    try {
      response = await readOnPiiPort({ [DEADLINE_HEADER]: '500', 'x-request-id': id });
    } finally {
      await lock.release();
    }
    expect(codes(response)).toEqual(['DEADLINE_EXCEEDED']);
    expect(response.status).toBe(504);
    expect(JSON.stringify(response)).not.toContain(EMAIL);
    expect(await readEvents(id)).not.toContainEqual(expect.objectContaining({ action: 'PII_READ', decision: 'ALLOW' }));
  });

  test('with the audit log locked past the deadline, a read releases nothing and leaves no ALLOW once the lock is gone', async () => {
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${stack.schemas.audit}".audit_event IN ACCESS EXCLUSIVE MODE`);
    const id = requestId();
    let response;
    try {
      // Held longer than the budget: the audit service's append must give up at the caller's deadline, not commit after it.
      const [read] = await Promise.all([
        readThroughGateway({ [DEADLINE_HEADER]: '600', 'x-request-id': id }),
        new Promise((resolve) => setTimeout(resolve, 1200)),
      ]);
      response = read;
    } finally {
      await locker.query('ROLLBACK');
    }
    // The audit service gives up just before the deadline (with a margin for its answer): the read is refused as
    // AUDIT_UNAVAILABLE, or as DEADLINE_EXCEEDED (504) when the deadline is reached first; either way without the value.
    expect(codes(response).filter((code) => code === 'AUDIT_UNAVAILABLE' || code === 'DEADLINE_EXCEEDED').length).toBeGreaterThan(0);
    expect(response.data?.user?.email ?? null).toBeNull();
    expect(JSON.stringify(response)).not.toContain(EMAIL);
    // The lock outlasted the budget, so the append had given up before it went: nothing of that read was committed.
    expect(await readEvents(id)).not.toContainEqual(expect.objectContaining({ action: 'PII_READ', decision: 'ALLOW' }));
  });

  test('a read whose ALLOW was committed but whose deadline passed before the answer came back is withheld, and a FAILED outcome says so', async () => {
    const id = requestId();
    // The audit batch commits, then its answer reaches the pii side 800 ms later, past the request's 300 ms.
    answerLate.set(id, 800);
    let response;
    try {
      response = await readOnPiiPort({ [DEADLINE_HEADER]: '300', 'x-request-id': id });
    } finally {
      answerLate.delete(id);
    }
    expect(codes(response)).toEqual(['DEADLINE_EXCEEDED']);
    expect(JSON.stringify(response)).not.toContain(EMAIL);
    // The committed ALLOW is followed by its outcome (same request, subject, field): the value was not released.
    const events = (await readEvents(id)).filter((e) => e.action === 'PII_READ');
    expect(events.map((e) => [e.field, e.decision, e.reason, e.outcome])).toEqual([
      ['User.email', 'ALLOW', 'CONSENT', null],
      ['User.email', 'ALLOW', 'DEADLINE_EXCEEDED', 'FAILED'],
    ]);
  });

  test('several withheld reads of one request get their outcomes in one append', async () => {
    const id = requestId();
    answerLate.set(id, 800);
    let response;
    try {
      response = await stack.gql(
        'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email phone } } }',
        { r: [{ __typename: 'User', id: subjectId }] },
        { token: cms, purpose: 'crm', headers: { [DEADLINE_HEADER]: '300', 'x-request-id': id }, service: 'pii' },
      );
    } finally {
      answerLate.delete(id);
    }
    expect(codes(response).every((code) => code === 'DEADLINE_EXCEEDED')).toBe(true);
    expect(JSON.stringify(response)).not.toContain(EMAIL);
    const events = (await readEvents(id)).filter((e) => e.action === 'PII_READ');
    const allowed = events.filter((e) => e.decision === 'ALLOW' && e.outcome === null).map((e) => e.field);
    const failed = events.filter((e) => e.outcome === 'FAILED');
    expect(allowed.length).toBeGreaterThan(1);
    expect(failed.map((e) => e.field).sort()).toEqual([...allowed].sort());
    expect(failed.every((e) => e.reason === 'DEADLINE_EXCEEDED')).toBe(true);
    expect(outcomeAppends.get(id)).toBe(1);
  });

  testOnPostgres("without a header the pools' lock_timeout ceiling ends the wait: DEADLINE_EXCEEDED, never INTERNAL_SERVER_ERROR", async () => {
    const lock = await lockFields();
    const id = requestId();
    let response;
    try {
      // The default budget (10 s) outlasts DB_LOCK_TIMEOUT_MS (1.5 s): the database gives up first (SQLSTATE 55P03).
      response = await readOnPiiPort({ 'x-request-id': id });
    } finally {
      await lock.release();
    }
    expect(codes(response)).toEqual(['DEADLINE_EXCEEDED']);
    expect(JSON.stringify(response)).not.toContain(EMAIL);
    expect(JSON.stringify(response)).not.toMatch(/lock|pii_field|SELECT/i);
    expect(await readEvents(id)).not.toContainEqual(expect.objectContaining({ action: 'PII_READ', decision: 'ALLOW' }));
  });

  testOnPostgres("a profile write past its deadline does not happen: the transaction's lock wait ends with the request's budget", async () => {
    const lock = await lockFields();
    // The lock goes after 1 s, before the pool's 1.5 s ceiling: only the request's own 400 ms stops the write.
    const released = new Promise((resolve) => setTimeout(resolve, 1000)).then(() => lock.release());
    const id = requestId();
    let response;
    try {
      response = await stack.gql(
        'mutation($input: ProfileInput!) { updateMyProfile(input: $input) { __typename } }',
        { input: { email: 'deadline.changed@example.com' } },
        { token: reader.token, headers: { [DEADLINE_HEADER]: '400', 'x-request-id': id }, service: 'pii' },
      );
    } finally {
      await released;
    }
    expect(codes(response)).toEqual(['DEADLINE_EXCEEDED']);
    // Its write-ahead PII_WRITE is followed by an outcome event that says it did not happen.
    expect((await readEvents(id)).filter((e) => e.action === 'PII_WRITE').map((e) => [e.field, e.reason, e.outcome])).toEqual([
      ['User.email', 'SELF', null],
      ['User.email', 'DEADLINE_EXCEEDED', 'FAILED'],
    ]);
    const me = await stack.gql('{ me { email } }', {}, { token: reader.token });
    expectNoErrors(me);
    expect(me.data?.me.email).toBe(EMAIL);
  });

  test('a consent grant past its deadline does not happen either, and says DEADLINE_EXCEEDED', async () => {
    const policyVersion = await policyVersionFor(stack, shop, 'newsletter', ['CONTACT']);
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${stack.schema('consent')}".consent_event IN ACCESS EXCLUSIVE MODE`);
    const released = new Promise((resolve) => setTimeout(resolve, 1000)).then(() => locker.query('ROLLBACK'));
    let response;
    try {
      response = await stack.gql(
        'mutation($input: GrantConsentInput!) { grantConsent(input: $input) { id } }',
        { input: { tenantId: shop, purpose: 'newsletter', categories: ['CONTACT'], policyVersion } },
        { token: reader.token, headers: { [DEADLINE_HEADER]: '400' }, service: 'consent' },
      );
    } finally {
      await released;
    }
    expect(codes(response)).toEqual(['DEADLINE_EXCEEDED']);
    const stored = await stack.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schema('consent')}".consent WHERE purpose = 'newsletter'`);
    expect(stored[0].n).toBe(0);
  });

  test('a spent budget runs nothing, on the gateway and on a subgraph port: 504 before execution', async () => {
    for (const response of [await readThroughGateway({ [DEADLINE_HEADER]: '0' }), await readOnPiiPort({ [DEADLINE_HEADER]: '0' })]) {
      expect(response.status).toBe(504);
      expect(codes(response)).toEqual(['DEADLINE_EXCEEDED']);
      expect(JSON.stringify(response)).not.toContain(EMAIL);
    }
  });

  test('malformed deadline headers are ignored (the default applies), on the gateway and on a subgraph port', async () => {
    for (const value of ['abc', '-5', '1e3', '12.5', '0x10', ' ', '9999999999', '500ms']) {
      const viaGateway = await readThroughGateway({ [DEADLINE_HEADER]: value });
      expectNoErrors(viaGateway);
      expect(viaGateway.data?.user.email).toBe(EMAIL);
      const direct = await readOnPiiPort({ [DEADLINE_HEADER]: value });
      expectNoErrors(direct);
      expect(direct.data?._entities).toEqual([{ email: EMAIL }]);
    }
  });

  test('the gateway passes the budget left to subgraphs, capped by REQUEST_DEADLINE_MS, replacing what the client sent; an unreachable subgraph is DEPENDENCY_UNAVAILABLE', async () => {
    // A recording proxy in front of the pii subgraph sees what the gateway sends.
    const seen: (string | undefined)[] = [];
    const piiUrl = stack.running.subgraphs.pii.url;
    const proxy = http.createServer(async (req, res) => {
      seen.push(req.headers[DEADLINE_HEADER] as string | undefined);
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name))) as Record<string, string>;
      const upstream = await fetch(`${piiUrl}${req.url}`, { method: 'POST', headers, body: Buffer.concat(chunks) });
      res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(Buffer.from(await upstream.arrayBuffer()));
    });
    proxy.listen(0, '127.0.0.1');
    await new Promise((resolve) => proxy.once('listening', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const { subgraphs } = stack.running;
    const gateway = await startGateway(
      loadGatewayConfig({
        NODE_ENV: 'test',
        PORT: '0',
        PRIVGRAPH_DATA_DIR: stack.dataDir,
        INTERNAL_API_TOKEN: stack.reuse.internalToken,
        IDENTITY_URL: subgraphs.identity.url,
        CONSENT_URL: subgraphs.consent.url,
        AUDIT_URL: subgraphs.audit.url,
        PII_URL: subgraphs.pii.url,
        REQUEST_DEADLINE_MS: '3000',
        RATE_LIMIT_POINTS: '1000000000',
      }),
      { subgraphUrls: { pii: proxyUrl } },
    );
    try {
      const read = (headers: Record<string, string>) =>
        fetch(gateway.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${cms}`, 'x-privacy-purpose': 'crm', ...headers },
          body: JSON.stringify({ query: READ, variables: { r: reader.refs[shop] } }),
        }).then((r) => r.json() as Promise<{ data?: { user?: { email?: string } } }>);
      for (const [sent, cap] of [[undefined, 3000], ['700', 700], ['999999', 3000], ['junk', 3000]] as const) {
        seen.length = 0;
        const body = await read(sent === undefined ? {} : { [DEADLINE_HEADER]: sent });
        expect(body.data?.user?.email).toBe(EMAIL);
        expect(seen).toHaveLength(1);
        expect(seen[0]).toMatch(/^\d+$/);
        expect(Number(seen[0])).toBeLessThanOrEqual(cap);
      }
      // With the subgraph unreachable the gateway answers DEPENDENCY_UNAVAILABLE, not a masked INTERNAL_SERVER_ERROR.
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
      const unreachable = (await read({})) as { data?: { user?: { email?: string } }; errors?: { extensions?: Record<string, unknown> }[] };
      expect(codes(unreachable)).toContain('DEPENDENCY_UNAVAILABLE');
      expect(codes(unreachable)).not.toContain('INTERNAL_SERVER_ERROR');
      expect(JSON.stringify(unreachable)).not.toContain(EMAIL);
    } finally {
      await gateway.stop();
      if (proxy.listening) await new Promise((resolve) => proxy.close(resolve));
    }
  });

  /** Sends `head` on a raw socket and never the rest; resolves with what the server answered once it closes the socket. */
  const stall = (port: number, head: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(head));
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });

  test('a client that sends its headers and stalls the body is cut off (408) by HTTP_REQUEST_TIMEOUT_MS, on every port', async () => {
    const ports = [stack.running.gateway.port, stack.running.subgraphs.pii.port, stack.running.subgraphs.audit.port];
    const head = 'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":';
    for (const answer of await Promise.all(ports.map((port) => stall(port, head)))) {
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    }
  });

  test('a client that stalls in the middle of its headers is cut off by HTTP_HEADERS_TIMEOUT_MS', async () => {
    const answer = await stall(stack.running.gateway.port, 'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe('deadline header parsing and the error mapping', () => {
  const header = (value: string | undefined) => ({ header: (name: string) => (name === DEADLINE_HEADER ? value : undefined) });

  test('only plain decimal milliseconds count, and never more than the maximum', () => {
    expect(parseDeadlineHeader('250')).toBe(250);
    expect(parseDeadlineHeader(' 250 ')).toBe(250);
    for (const bad of [undefined, '', '-1', '1.5', '1e3', '0x1f', 'NaN', '10000000000', '２５０']) expect(parseDeadlineHeader(bad)).toBeUndefined();
    const settings = { defaultMs: 2000, maxMs: 5000 };
    expect(deadlineFrom(header('999999'), settings).remainingMs()).toBeLessThanOrEqual(5000);
    expect(deadlineFrom(header('nonsense'), settings).remainingMs()).toBeLessThanOrEqual(2000);
    expect(deadlineFrom(header('0'), settings).expired()).toBe(true);
  });

  test("a PII read's audit batch is sent with less than the request has left: the caller keeps a margin (a tenth, at most 20 ms)", () => {
    expect(appendBudget(Deadline.in(1000)).remainingMs()).toBeLessThanOrEqual(980);
    expect(appendBudget(Deadline.in(100)).remainingMs()).toBeLessThanOrEqual(90);
    expect(appendBudget(Deadline.in(0)).expired()).toBe(true);
  });

  test('statement_timeout and lock_timeout answer DEADLINE_EXCEEDED; a database that cannot be reached answers DEPENDENCY_UNAVAILABLE', () => {
    const format = createErrorFormatter(componentLogger('test'));
    const pgError = (code: string) => Object.assign(new Error('canceling statement due to statement timeout: SELECT secret'), { code, severity: 'ERROR' });
    const formatted = (original: Error) => format({ message: original.message, extensions: {} }, new GraphQLError(original.message, { originalError: original }));
    expect(formatted(pgError('57014')).extensions?.code).toBe('DEADLINE_EXCEEDED');
    expect(formatted(pgError('55P03')).extensions?.code).toBe('DEADLINE_EXCEEDED');
    expect(formatted(pgError('57P01')).extensions?.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(formatted(pgError('08006')).extensions?.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(formatted(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })).extensions?.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(formatted(new Error('Connection terminated unexpectedly')).extensions?.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(formatted(new Error('timeout exceeded when trying to connect')).extensions?.code).toBe('DEPENDENCY_UNAVAILABLE');
    for (const code of ['57014', '57P01']) expect(formatted(pgError(code)).message).not.toMatch(/SELECT|secret/);
    expect(formatted(new Error('something else')).extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  });
});

describe('a transaction bounded by a deadline (withinDeadline)', () => {
  let dataSource: DataSource;
  const schema = `deadline_tx_${process.pid}`;

  beforeAll(async () => {
    dataSource = await new DataSource({ type: 'postgres', url: process.env.DATABASE_URL }).initialize();
    await dataSource.query(`CREATE SCHEMA "${schema}"`);
    await dataSource.query(`CREATE TABLE "${schema}".note (body text NOT NULL)`);
  });
  afterAll(async () => {
    await dataSource?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await dataSource?.destroy();
  });

  const stored = async () => (await dataSource.query(`SELECT body FROM "${schema}".note ORDER BY body`)).map((row: { body: string }) => row.body);

  test('a transaction whose statements each end in time but whose whole outlives the deadline rolls back: nothing is stored', async () => {
    const deadline = Deadline.in(150);
    const write = dataSource.transaction((manager) =>
      withinDeadline(manager, deadline, async () => {
        await manager.query(`INSERT INTO "${schema}".note (body) VALUES ('first')`);
        // Work between the statements (no single statement is slow) until the budget is gone.
        while (!deadline.expired()) await new Promise((resolve) => setTimeout(resolve, deadline.remainingMs() + 1));
        await manager.query(`INSERT INTO "${schema}".note (body) VALUES ('second')`);
      }),
    );
    await expect(write).rejects.toMatchObject({ extensions: { code: 'DEADLINE_EXCEEDED' } });
    expect(await stored()).toEqual([]);
  });

  test('within its deadline it commits, and without one it is unbounded', async () => {
    await dataSource.transaction((manager) => withinDeadline(manager, Deadline.in(10_000), () => manager.query(`INSERT INTO "${schema}".note (body) VALUES ('kept')`)));
    await dataSource.transaction((manager) => withinDeadline(manager, undefined, () => manager.query(`INSERT INTO "${schema}".note (body) VALUES ('unbounded')`)));
    expect(await stored()).toEqual(['kept', 'unbounded']);
  });

  test('a spent deadline runs nothing', async () => {
    let ran = false;
    const write = dataSource.transaction((manager) =>
      withinDeadline(manager, Deadline.in(0), async () => {
        ran = true;
      }),
    );
    await expect(write).rejects.toMatchObject({ extensions: { code: 'DEADLINE_EXCEEDED' } });
    expect(ran).toBe(false);
  });
});

/**
 * The database behind a TCP relay the test controls: frozen (bytes held, like stopped processes) or down (every
 * connection cut, new ones refused).
 */
async function startDatabaseRelay(target: URL) {
  const sockets = new Set<import('node:net').Socket>();
  let frozen = false;
  let down = false;
  const held: (() => void)[] = [];
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    const pipe = (from: import('node:net').Socket, to: import('node:net').Socket) =>
      from.on('data', (chunk) => {
        if (frozen) held.push(() => to.write(chunk));
        else to.write(chunk);
      });
    pipe(client, upstream);
    pipe(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = new URL(target.toString());
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
      for (const write of held.splice(0)) write();
    },
    cut: () => {
      down = true;
      for (const socket of sockets) socket.destroy();
    },
    restore: () => {
      down = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('a frozen or lost database', () => {
  let relay: Awaited<ReturnType<typeof startDatabaseRelay>>;
  let stack: TestStack;
  let shop: string;
  let reader: Subject;
  let cms: string;
  const email = 'frozen.reader@example.com';

  beforeAll(async () => {
    relay = await startDatabaseRelay(new URL(process.env.DATABASE_URL as string));
    // The services reach the database through the relay; the test's own SQL client does not.
    stack = await startTestStack({ env: { DATABASE_URL: relay.url } });
    shop = await createTenant(stack, 'Frozen Shop');
    reader = await createSubject(stack, 'frozen-reader', { email }, [shop]);
    await grantConsent(stack, reader, { tenantId: shop, purpose: 'crm', categories: ['CONTACT'] });
    cms = await stack.tokens.tenant(shop, ['pii:contact:read']);
    expect((await stack.gql(READ, { r: reader.refs[shop] }, { token: cms, purpose: 'crm' })).data?.user.email).toBe(email);
  });
  afterAll(async () => {
    relay?.thaw();
    relay?.restore();
    await stack?.stop();
    await relay?.close();
  });

  test('with the database frozen, reads in flight answer 504 DEADLINE_EXCEEDED with no value instead of waiting for it to thaw', async () => {
    relay.freeze();
    let responses;
    try {
      responses = await Promise.all(
        Array.from({ length: 3 }, () => stack.gql(READ, { r: reader.refs[shop] }, { token: cms, purpose: 'crm', headers: { [DEADLINE_HEADER]: '700' } })),
      );
    } finally {
      relay.thaw();
    }
    for (const response of responses) {
      expect(response.status).toBe(504);
      expect(codes(response)).toContain('DEADLINE_EXCEEDED');
      expect(JSON.stringify(response)).not.toContain(email);
    }
  });

  test('with the database gone, queries answer DEPENDENCY_UNAVAILABLE (not INTERNAL_SERVER_ERROR) and PII reads fail closed', async () => {
    const subjectId = (await stack.sql<{ id: string }>(`SELECT id FROM "${stack.schema('identity')}".subject WHERE sub = $1`, ['frozen-reader']))[0].id;
    const POLICY = 'query($t: ID!) { tenantPolicy(tenantId: $t) { version } }';
    relay.cut();
    try {
      // A plain read of the consent service's own tables, through the gateway and on its port.
      for (const response of [await stack.gql(POLICY, { t: shop }, { token: cms }), await stack.gql(POLICY, { t: shop }, { token: cms, service: 'consent' })]) {
        expect(codes(response)).toEqual(['DEPENDENCY_UNAVAILABLE']);
      }
      // A PII read fails closed with the code of the first dependency it could not reach (consent, audit, the store).
      const viaGateway = await stack.gql(READ, { r: reader.refs[shop] }, { token: cms, purpose: 'crm' });
      const direct = await stack.gql(ENTITIES, { r: [{ __typename: 'User', id: subjectId }] }, { token: cms, purpose: 'crm', service: 'pii' });
      for (const response of [viaGateway, direct]) {
        expect(codes(response).length).toBeGreaterThan(0);
        expect(codes(response)).not.toContain('INTERNAL_SERVER_ERROR');
        expect(JSON.stringify(response)).not.toContain(email);
      }
    } finally {
      relay.restore();
    }
    // The pools reconnect once it is back.
    expect((await stack.gql(READ, { r: reader.refs[shop] }, { token: cms, purpose: 'crm' })).data?.user.email).toBe(email);
  });
});
