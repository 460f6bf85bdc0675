/*
 * The benchmark's server process: the real privgraph (gateway + four subgraphs), a plain
 * @apollo/gateway in front of the same subgraphs (S4), and the unguarded twin. It counts SQL
 * statements per connection pool and answers on a small control endpoint. Started by bench/run.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { Client } from 'pg';
import { loadOrCreateDevIssuerKey } from '../shared/auth/dev-issuer';
import { SERVICE_NAMES } from '../shared/config';
import { startEmbeddedPostgres } from '../shared/db/embedded';
import { startStack } from '../scripts/stack';
import { loadSupergraph } from '../gateway/src/supergraph';
import { startTwin, type TwinRow } from './twin/twin';

/** SQL statements sent, per application_name (each service's pool names itself). */
const statements: Record<string, number> = {};
const originalQuery = Client.prototype.query;
Client.prototype.query = function countedQuery(this: Client & { connectionParameters?: { application_name?: string } }, ...args: unknown[]) {
  const app = this.connectionParameters?.application_name ?? 'other';
  statements[app] = (statements[app] ?? 0) + 1;
  return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof Client.prototype.query;

export interface ServerInfo {
  database: 'postgresql' | 'embedded';
  databaseUrl: string;
  dataDir: string;
  schemaPrefix: string;
  gateway: string;
  plainGateway: string;
  twinGateway: string;
  twinRefs: string[];
  control: string;
}

async function main() {
  const users = Number(process.env.BENCH_USERS ?? 100);
  const dataDir = mkdtempSync(join(tmpdir(), 'privgraph-bench-'));
  let databaseUrl = process.env.DATABASE_URL;
  const embedded = databaseUrl ? undefined : await startEmbeddedPostgres(undefined);
  databaseUrl ??= embedded!.url;
  await loadOrCreateDevIssuerKey(dataDir);
  const schemaPrefix = `bench_${process.pid}_`;

  let dekCache: () => { hits: number; misses: number } = () => ({ hits: 0, misses: 0 });
  const stack = await startStack({
    pii: { exposeCacheStats: (stats) => (dekCache = stats) },
    env: {
      // The benchmark mints its tokens with the development issuer.
      NODE_ENV: 'development',
      PRIVGRAPH_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      DB_SCHEMA_PREFIX: schemaPrefix,
      INTERNAL_API_TOKEN: randomBytes(32).toString('base64url'),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // The limiter runs and charges every request (its cost is measured), but a few tokens sending thousands of
      // requests a second must not be refused: that would measure 429s.
      RATE_LIMIT_POINTS: process.env.RATE_LIMIT_POINTS ?? '1000000000',
      RATE_LIMIT_ANONYMOUS_POINTS: process.env.RATE_LIMIT_ANONYMOUS_POINTS ?? '1000000000',
    },
    ports: 'ephemeral',
  });

  // S4: Apollo's gateway as it comes, no privgraph plugins, forwarding only what subgraphs need to answer.
  const urls = Object.fromEntries(SERVICE_NAMES.map((name) => [name, stack.subgraphs[name].graphqlUrl]));
  const plain = new ApolloServer<{ headers: http.IncomingHttpHeaders }>({
    gateway: new ApolloGateway({
      supergraphSdl: loadSupergraph(),
      buildService: ({ name }) =>
        new (class extends RemoteGraphQLDataSource<{ headers: http.IncomingHttpHeaders }> {
          override willSendRequest({ request, context }: Parameters<RemoteGraphQLDataSource<{ headers: http.IncomingHttpHeaders }>['willSendRequest'] & object>[0]) {
            for (const header of ['authorization', 'x-privacy-purpose']) {
              const value = context?.headers?.[header];
              if (typeof value === 'string') request.http?.headers.set(header, value);
            }
          }
        })({ url: urls[name], fetcher: fetch as unknown as NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'] }),
    }),
  });
  const { url: plainGateway } = await startStandaloneServer(plain, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => ({ headers: req.headers }),
  });

  const rows: TwinRow[] = Array.from({ length: users }, (_, i) => ({
    ref: `usr_twin_${String(i).padStart(5, '0')}`,
    email: `bench${i}@example.com`,
    phone: `+4930${1_000_000 + i}`,
    givenName: `Given${i}`,
    familyName: `Family${i}`,
    birthDate: '1990-01-01',
    address: { line1: `Street ${i}`, line2: null, city: 'Berlin', postalCode: '10115', country: 'DE' },
    nationalId: `ID${i}`,
  }));
  const twin = await startTwin(databaseUrl, `${schemaPrefix}twin`, rows);

  let stopping = false;
  const control = http.createServer((req, res) => {
    if (req.url === '/counters') {
      res.setHeader('content-type', 'application/json');
      const cpu = process.cpuUsage();
      const cache = dekCache();
      res.end(JSON.stringify({ ...statements, cpuMicros: cpu.user + cpu.system, dekCacheHits: cache.hits, dekCacheMisses: cache.misses }));
      return;
    }
    if (req.url === '/stop' && !stopping) {
      stopping = true;
      res.end('stopping');
      void (async () => {
        await plain.stop();
        await twin.stop();
        await stack.stop();
        const client = new Client({ connectionString: databaseUrl });
        await client.connect();
        const owned = await client.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1)', [schemaPrefix]);
        for (const { name } of owned.rows) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
        await client.end();
        await embedded?.stop();
        rmSync(dataDir, { recursive: true, force: true });
        process.exit(0);
      })();
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));

  const info: ServerInfo = {
    database: embedded ? 'embedded' : 'postgresql',
    databaseUrl,
    dataDir,
    schemaPrefix,
    gateway: stack.gateway.graphqlUrl,
    plainGateway,
    twinGateway: twin.gatewayUrl,
    twinRefs: twin.refs,
    control: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
  };
  process.stdout.write(`BENCH_READY ${JSON.stringify(info)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench server failed: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
