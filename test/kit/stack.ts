import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { devTokens, loadOrCreateDevIssuerKey, type DevIssuerKey, type SubjectTokenOptions } from '../../shared/auth/dev-issuer';
import { SERVICE_NAMES, type ServiceName } from '../../shared/config';
import { startStack, type RunningStack } from '../../scripts/stack';
import type { PiiOptions } from '../../subgraphs/pii/src/app';
import type { IdentityOptions } from '../../subgraphs/identity/src/app';

/**
 * A clock the tests can move forward (consent expiry). A frozen clock moves only when told, so a
 * model can predict expiry to the millisecond.
 */
export class TestClock {
  private offsetMs = 0;
  private readonly frozenAt: number | null;
  constructor(options: { frozen?: boolean } = {}) {
    this.frozenAt = options.frozen ? Date.now() : null;
  }
  readonly now = () => new Date((this.frozenAt ?? Date.now()) + this.offsetMs);
  advance(ms: number) {
    this.offsetMs += ms;
  }
}

export interface GqlResponse<T = Record<string, unknown>> {
  status: number;
  data: T | null | undefined;
  errors: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[] | undefined;
  headers: Headers;
}

export interface GqlOptions {
  token?: string;
  purpose?: string;
  headers?: Record<string, string>;
  /** Send to a subgraph directly instead of the gateway. */
  service?: ServiceName;
}

export interface TestStack {
  running: RunningStack;
  key: DevIssuerKey;
  clock: TestClock;
  schemas: Record<ServiceName, string>;
  /** The stack's data directory (dev issuer key, keyring). */
  dataDir: string;
  /** Every schema of this stack's services, region stores included (e.g. `pii_eu`, `pii_eu_keys`). */
  schema(name: string): string;
  tokens: {
    admin(): Promise<string>;
    /** `verified`: the token's `email_verified` / `phone_number_verified` claims (absent by default). */
    /** A subject's token: verification flags, and the app it was issued to (`clientId`, default DEV_APP_CLIENT_ID). */
    subject(name: string, options?: SubjectTokenOptions): Promise<string>;
    tenant(tenantId: string, scopes?: string[]): Promise<string>;
    /** A staff user (`sub`) acting for the tenant, with the scopes of their organization role. */
    member(tenantId: string, sub: string, scopes?: string[]): Promise<string>;
  };
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, options?: GqlOptions): Promise<GqlResponse<T>>;
  /** Raw SQL for assertions on what is stored (never used to set up state the API can set up). */
  sql<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /**
   * Raw SQL with user triggers switched off for one transaction: the deliberate step an attacker with
   * the owner's rights would take to tamper with the write-once audit log.
   */
  tamper(text: string, params?: unknown[]): Promise<void>;
  /** What a restart needs to start on this stack's schemas and data directory (see `reuse`). */
  reuse: { prefix: string; dataDir: string; internalToken: string };
  /** Stops the services but keeps schemas and data directory, for a restart with `reuse`. */
  halt(): Promise<void>;
  stop(): Promise<void>;
}

let counter = 0;

/**
 * Starts gateway + four subgraphs on free ports against the test database, in throwaway schemas
 * (t<random>_identity, …) and a throwaway data directory; stop() drops them.
 */
export async function startTestStack(
  options: {
    pii?: PiiOptions;
    identity?: Omit<IdentityOptions, 'now'>;
    clock?: TestClock;
    env?: Record<string, string>;
    databaseUrl?: string;
    /** Start again on a stopped stack's schemas and data directory (a restart; crash and restore tests). */
    reuse?: { prefix: string; dataDir: string; internalToken: string };
  } = {},
): Promise<TestStack> {
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL is not set (test/kit/global-setup.ts sets it)');
  const dataDir = options.reuse?.dataDir ?? mkdtempSync(join(tmpdir(), 'privgraph-test-'));
  const key = await loadOrCreateDevIssuerKey(dataDir);
  const prefix = options.reuse?.prefix ?? `t${process.pid}_${counter++}_${randomBytes(3).toString('hex')}_`;
  const internalToken = options.reuse?.internalToken ?? randomBytes(32).toString('base64url');
  const clock = options.clock ?? new TestClock();
  const running = await startStack({
    env: {
      NODE_ENV: 'test',
      PRIVGRAPH_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      DB_SCHEMA_PREFIX: prefix,
      DB_POOL_SIZE: '4',
      INTERNAL_API_TOKEN: internalToken,
      // Suites drive many requests through one principal in seconds; test/rate-limit.test.ts sets its own budgets.
      RATE_LIMIT_POINTS: '1000000000',
      RATE_LIMIT_ANONYMOUS_POINTS: '1000000000',
      ...options.env,
    },
    ports: 'ephemeral',
    now: clock.now,
    pii: options.pii,
    identity: options.identity,
  });
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const schemas = Object.fromEntries(SERVICE_NAMES.map((name) => [name, `${prefix}${name}`])) as Record<ServiceName, string>;

  return {
    running,
    key,
    clock,
    schemas,
    dataDir,
    schema: (name) => `${prefix}${name}`,
    tokens: {
      admin: () => devTokens.admin(key),
      subject: (name, options) => devTokens.subject(key, name, undefined, options),
      tenant: (tenantId, scopes = []) => devTokens.tenant(key, tenantId, scopes),
      member: (tenantId, sub, scopes = []) => devTokens.member(key, tenantId, sub, scopes),
    },
    async gql(query, variables, gqlOptions = {}) {
      const url = gqlOptions.service ? running.subgraphs[gqlOptions.service].graphqlUrl : running.gateway.graphqlUrl;
      const headers: Record<string, string> = { 'content-type': 'application/json', ...gqlOptions.headers };
      if (gqlOptions.token) headers.authorization = `Bearer ${gqlOptions.token}`;
      if (gqlOptions.purpose) headers['x-privacy-purpose'] = gqlOptions.purpose;
      const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
      const body = (await response.json()) as { data?: any; errors?: any[] };
      return { status: response.status, data: body.data, errors: body.errors, headers: response.headers };
    },
    async sql(text, params) {
      return (await client.query(text, params)).rows;
    },
    async tamper(text, params) {
      await client.query('BEGIN');
      try {
        await client.query('SET LOCAL session_replication_role = replica');
        await client.query(text, params);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    },
    reuse: { prefix, dataDir, internalToken },
    async halt() {
      await running.stop();
      await client.end();
    },
    async stop() {
      await running.stop();
      const owned = await client.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1)`, [prefix]);
      for (const { name } of owned.rows) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      await client.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
