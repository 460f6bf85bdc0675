import type { EmbeddedPostgres } from '../../shared/db/embedded';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __privgraphEmbedded?: EmbeddedPostgres }).__privgraphEmbedded?.stop();
}
