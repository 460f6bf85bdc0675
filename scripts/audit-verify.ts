/*
 * `npm run audit:verify`: recomputes the audit log's hash chain from event 1 and holds it against every
 * signed checkpoint, outside the running services. Exit code 0 when the log verifies, 1 when it does
 * not (naming the first bad sequence number), 2 when it cannot be checked.
 *
 * Database: AUDIT_DATABASE_URL or DATABASE_URL (schema `<DB_SCHEMA_PREFIX>audit`); without either, the
 * embedded database under PRIVGRAPH_DATA_DIR (.data), through the running privgraph if there is one.
 * Checkpoints: AUDIT_CHECKPOINT_PATH; key: PLATFORM_SIGNING_KEY_FILE (defaults as for the service).
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ConfigError, loadDatabaseConfig, type Env } from '../shared/config';
import { runningEmbeddedUrl, startEmbeddedPostgres, type EmbeddedPostgres } from '../shared/db/embedded';
import { loadSigningKey } from '../shared/signing-key';
import { loadIntegrityConfig } from '../subgraphs/audit/src/config';
import { createAuditRepository } from '../subgraphs/audit/src/db/repositories/audit-repository';
import { createRetentionRepository } from '../subgraphs/audit/src/db/repositories/retention-repository';
import { createFileCheckpointSink } from '../subgraphs/audit/src/services/checkpoints';
import { verifyAuditLog, type VerificationProblem } from '../subgraphs/audit/src/services/verification';

const EXPLAIN: Record<VerificationProblem, string> = {
  CHAIN_BROKEN: 'an event was altered, removed, inserted or reordered',
  DUPLICATE_SEQ: 'two events hold this sequence number: one of them was forged',
  TRUNCATED: 'the log ends before an event a signed checkpoint covers: its tail was cut off',
  CHECKPOINT_MISMATCH: 'the chain does not pass through a signed checkpoint: it was rewritten and recomputed',
  CHECKPOINT_INVALID: "a stored checkpoint's signature does not verify with the platform's key",
  PURGE_RECORD_INVALID: "a record of events removed by retention does not verify with the platform's key",
};

async function main(): Promise<number> {
  const env: Env = { ...process.env };
  const dataDir = env.PRIVGRAPH_DATA_DIR ?? '.data';
  let embedded: EmbeddedPostgres | undefined;
  if (!env.AUDIT_DATABASE_URL && !env.DATABASE_URL) {
    env.DATABASE_URL = (await runningEmbeddedUrl(dataDir)) ?? (embedded = await startEmbeddedPostgres(dataDir)).url;
  }
  const database = loadDatabaseConfig(env, 'audit');
  const integrity = loadIntegrityConfig(env, dataDir, env.NODE_ENV === 'production');
  const dataSource = new DataSource({ type: 'postgres', url: database.url, schema: database.schema, applicationName: 'privgraph-audit-verify' });
  try {
    await dataSource.initialize();
    const [{ exists }] = await dataSource.query(`SELECT to_regclass($1) IS NOT NULL AS exists`, [`"${database.schema}".audit_event`]);
    if (!exists) {
      process.stderr.write(`no audit log in schema ${database.schema}: has privgraph run against this database?\n`);
      return 2;
    }
    const key = await loadSigningKey(integrity.signingKey.path, { create: false });
    const checkpoints = await createFileCheckpointSink(integrity.checkpoints.path).readAll();
    const purges = (await createRetentionRepository(dataSource).listPurges()).map((p) => p.record);
    const result = await verifyAuditLog(createAuditRepository(dataSource), checkpoints, key.publicJwk, purges);
    if (result.ok) {
      process.stdout.write(`audit log verified: ${result.checked} events, ${result.checkpoints} signed checkpoints (${integrity.checkpoints.path})\n`);
      return 0;
    }
    const where = result.firstBadSeq === null ? '' : ` at seq ${result.firstBadSeq}`;
    process.stdout.write(`audit log NOT verified: ${result.problem}${where}: ${EXPLAIN[result.problem as VerificationProblem]} (${result.checked} events checked before)\n`);
    return 1;
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(error instanceof ConfigError ? `${error.message}\n` : `audit:verify failed: ${(error as Error).message}\n`);
    process.exit(2);
  },
);
