import { startEmbeddedPostgres } from '../../shared/db/embedded';

/** Starts the embedded PostgreSQL once for all test files when no DATABASE_URL is given. */
export default async function globalSetup(): Promise<void> {
  process.env.NODE_ENV = 'test';
  if (process.env.DATABASE_URL) {
    process.env.PRIVGRAPH_TEST_DATABASE = 'postgresql (DATABASE_URL)';
    return;
  }
  const embedded = await startEmbeddedPostgres(undefined);
  process.env.DATABASE_URL = embedded.url;
  process.env.PRIVGRAPH_TEST_DATABASE = 'embedded (PGlite)';
  (globalThis as { __privgraphEmbedded?: typeof embedded }).__privgraphEmbedded = embedded;
}
