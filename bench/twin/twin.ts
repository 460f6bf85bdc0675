/*
 * The unguarded twin: the same query shapes served from the same number of rows, in plaintext,
 * with plain @apollo/subgraph + pg + DataLoader and a plain @apollo/gateway. No shield, no consent,
 * no audit, no encryption: the baseline a team would have without privgraph. Benchmark-only.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import DataLoader from 'dataloader';
import { parse } from 'graphql';
import { Pool } from 'pg';

export interface TwinRow {
  ref: string;
  email: string;
  phone: string;
  givenName: string;
  familyName: string;
  birthDate: string;
  address: object;
  nationalId: string;
}

export interface RunningTwin {
  gatewayUrl: string;
  refs: string[];
  stop(): Promise<void>;
}

const sdl = (name: string) => parse(readFileSync(join(__dirname, `${name}.graphql`), 'utf8'));

async function listen(server: ApolloServer<object>): Promise<string> {
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
  return url;
}

export async function startTwin(databaseUrl: string, schema: string, rows: TwinRow[]): Promise<RunningTwin> {
  const pool = new Pool({ connectionString: databaseUrl, max: 10, application_name: 'privgraph-bench-twin' });
  const s = `"${schema}"`;
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
  await pool.query(`CREATE TABLE ${s}.users (id uuid PRIMARY KEY, ref text UNIQUE NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query(`CREATE TABLE ${s}.profiles (user_id uuid PRIMARY KEY, email text, phone text, given_name text, family_name text, birth_date text, address jsonb, national_id text)`);
  await pool.query(`CREATE TABLE ${s}.consents (id uuid PRIMARY KEY, tenant_id text, purpose text, categories text[], policy_version text, granted_at timestamptz DEFAULT now())`);
  for (const row of rows) {
    const id = randomUUID();
    await pool.query(`INSERT INTO ${s}.users (id, ref, status) VALUES ($1, $2, 'ACTIVE')`, [id, row.ref]);
    await pool.query(`INSERT INTO ${s}.profiles VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
      id, row.email, row.phone, row.givenName, row.familyName, row.birthDate, JSON.stringify(row.address), row.nationalId,
    ]);
  }

  type UserRow = { id: string; ref: string; status: string; createdAt: string };
  const selectUser = `SELECT id, ref, status, created_at::text AS "createdAt" FROM ${s}.users`;
  const users = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: sdl('users'),
      resolvers: {
        Query: {
          user: async (_: unknown, { ref }: { ref: string }) => (await pool.query(`${selectUser} WHERE ref = $1`, [ref])).rows[0] ?? null,
          users: async (_: unknown, { first, after }: { first: number; after?: string }) => {
            const { rows: page } = await pool.query<UserRow>(`${selectUser} WHERE ref > $1 ORDER BY ref LIMIT $2`, [after ?? '', first + 1]);
            const edges = page.slice(0, first).map((node) => ({ node, cursor: node.ref }));
            return { edges, pageInfo: { hasNextPage: page.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
          },
        },
        Mutation: {
          grantConsent: async (_: unknown, { input }: { input: { tenantId: string; purpose: string; categories: string[]; policyVersion: string } }) => {
            const id = randomUUID();
            await pool.query(`INSERT INTO ${s}.consents (id, tenant_id, purpose, categories, policy_version) VALUES ($1, $2, $3, $4, $5)`, [
              id, input.tenantId, input.purpose, input.categories, input.policyVersion,
            ]);
            return { id, status: 'ACTIVE' };
          },
        },
        User: { __resolveReference: async (reference: { id: string }) => reference },
      } as never,
    }),
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });

  const profile = new ApolloServer<{ profiles: DataLoader<string, Record<string, unknown> | null> }>({
    schema: buildSubgraphSchema({
      typeDefs: sdl('profile'),
      resolvers: {
        User: {
          __resolveReference: (reference: { id: string }, ctx: { profiles: DataLoader<string, Record<string, unknown> | null> }) => ctx.profiles.load(reference.id),
        },
      } as never,
    }),
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });

  const usersUrl = await listen(users as ApolloServer<object>);
  const { url: profileUrl } = await startStandaloneServer(profile, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async () => ({
      profiles: new DataLoader(async (ids: readonly string[]) => {
        const { rows: found } = await pool.query(
          `SELECT user_id AS id, email, phone, given_name AS "givenName", family_name AS "familyName", birth_date AS "birthDate", address, national_id AS "nationalId"
             FROM ${s}.profiles WHERE user_id = ANY($1::uuid[])`,
          [ids],
        );
        const byId = new Map(found.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id) ?? null);
      }),
    }),
  });

  const composed = composeServices([
    { name: 'users', url: usersUrl, typeDefs: sdl('users') },
    { name: 'profile', url: profileUrl, typeDefs: sdl('profile') },
  ]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('; '));
  // Node's fetch, as in privgraph's gateway, so the comparison measures the privacy layer and not the HTTP client.
  const fetcher = fetch as unknown as NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'];
  const gateway = new ApolloServer({
    gateway: new ApolloGateway({ supergraphSdl: composed.supergraphSdl, buildService: ({ url }) => new RemoteGraphQLDataSource({ url, fetcher }) }),
  });
  const gatewayUrl = await listen(gateway);

  return {
    gatewayUrl,
    refs: rows.map((r) => r.ref),
    async stop() {
      await gateway.stop();
      await users.stop();
      await profile.stop();
      await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await pool.end();
    },
  };
}

