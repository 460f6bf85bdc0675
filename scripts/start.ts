/*
 * `npm start`: the whole of privgraph in one process. With no DATABASE_URL it runs on the embedded
 * PostgreSQL (PGlite) under .data/; outside production it enables the development token issuer.
 */
import { randomBytes } from 'node:crypto';
import { loadOrCreateDevIssuerKey } from '../shared/auth/dev-issuer';
import { ConfigError, type Env } from '../shared/config';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../shared/db/embedded';
import { startStack } from './stack';

async function main() {
  const env: Env = { ...process.env };
  const dataDir = env.PRIVGRAPH_DATA_DIR ?? '.data';
  const production = env.NODE_ENV === 'production';
  const perServiceDb = ['IDENTITY', 'PII', 'CONSENT', 'AUDIT'].every((s) => env[`${s}_DATABASE_URL`]);
  let embedded: EmbeddedPostgres | undefined;
  if (!env.DATABASE_URL && !perServiceDb) {
    embedded = await startEmbeddedPostgres(dataDir);
    env.DATABASE_URL = embedded.url;
  }
  // All services share this process, so a per-run secret is enough for their internal calls.
  env.INTERNAL_API_TOKEN ??= randomBytes(32).toString('base64url');
  const devIssuer = !production && !env.AUTH_ISSUER && !env.LOGTO_ENDPOINT;
  if (devIssuer) await loadOrCreateDevIssuerKey(dataDir);

  let stack;
  try {
    stack = await startStack({ env, ports: 'configured' });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const endpoint = stack.gateway.graphqlUrl.replace('127.0.0.1', 'localhost');
  const lines = [
    '',
    'privgraph is running',
    `  GraphQL endpoint  ${endpoint}${production ? '' : '   (open it in a browser for the sandbox, docs/sandbox.md)'}`,
    `  health            ${endpoint.replace(/graphql$/, 'healthz')}  ${endpoint.replace(/graphql$/, 'readyz')}`,
    `  database          ${embedded ? `embedded PostgreSQL (PGlite), data in ${dataDir}/pglite` : 'PostgreSQL from DATABASE_URL'}`,
    `  PII regions       ${stack.piiRegions.map((r) => `${r.code} (${r.kek.provider === 'vault' ? `Vault ${r.kek.vault.address}` : `local keyring ${r.kek.keyringPath}`})`).join(', ')}`,
  ];
  if (devIssuer) {
    lines.push(
      '  tokens            development issuer (never enabled in production):',
      '                      npm run token -- admin',
      '                      npm run token -- subject alice',
      '                      npm run token -- tenant <tenantId> --scopes "pii:contact:read"',
    );
  }
  lines.push('  stop              Ctrl+C', '');
  process.stdout.write(lines.join('\n') + '\n');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('privgraph: stopping\n');
    await stack.stop();
    await embedded?.stop();
    process.stdout.write('privgraph: stopped\n');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`privgraph: ${error.message}\n`);
  } else if ((error as NodeJS.ErrnoException)?.code === 'EADDRINUSE') {
    process.stderr.write('privgraph: a port is already in use (gateway 4000, subgraphs 4001-4004); set PORT, IDENTITY_PORT, PII_PORT, CONSENT_PORT, AUDIT_PORT\n');
  } else {
    process.stderr.write(`privgraph: failed to start: ${(error as Error)?.message ?? 'unknown error'}\n`);
  }
  process.exit(1);
});
