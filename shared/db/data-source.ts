import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { DataSource, type EntitySchema, type MigrationInterface, type QueryRunner } from 'typeorm';
import type { EventEmitter } from 'node:events';
import type { DatabaseConfig } from '../config';
import { componentLogger } from '../logger';

const logger = componentLogger('db');

export interface DataSourceOptions {
  database: DatabaseConfig;
  entities: EntitySchema[];
  migrations: (new () => MigrationInterface)[];
  applicationName: string;
  /** Table privileges of the application role when migrations run as a separate owner (default: read and write). */
  appPrivileges?: string;
}

/**
 * A TypeORM DataSource bound to the service's own schema. Schema changes go through migrations only
 * (never `synchronize`); they run under an advisory lock so several replicas can start at once.
 */
export async function openDataSource(options: DataSourceOptions): Promise<DataSource> {
  const { database } = options;
  if (database.migrationUrl) {
    // Migrate as the schema owner, grant the application role what it needs, then connect as that role.
    const owner = createDataSource(options, database.migrationUrl, { timeouts: false });
    await owner.initialize();
    try {
      await migrate(owner, database.schema);
      await grantApplicationRole(owner, database.schema, database.url, options.appPrivileges ?? 'SELECT, INSERT, UPDATE, DELETE');
    } finally {
      await owner.destroy();
    }
    const app = createDataSource(options, database.url);
    await app.initialize();
    guardPoolClients(app, options.applicationName);
    return app;
  }
  // Migrations may run longer than any request may: they get a pool of their own without the statement ceiling.
  const migrator = createDataSource(options, database.url, { timeouts: false, poolSize: 2 });
  await migrator.initialize();
  try {
    await migrate(migrator, database.schema);
  } finally {
    await migrator.destroy();
  }
  const dataSource = createDataSource(options, database.url);
  await dataSource.initialize();
  guardPoolClients(dataSource, options.applicationName);
  return dataSource;
}

/**
 * A pooled connection the server drops (restart, failover, pg_terminate_backend) emits 'error' on its
 * client. pg's pool listens only on idle clients, so one checked out at that moment (e.g. mid-COPY)
 * would raise an unhandled 'error' event and take the process down. The failing query still rejects
 * and the pool replaces the connection; here the event is only logged, by code.
 */
function guardPoolClients(dataSource: DataSource, applicationName: string) {
  const pool = (dataSource.driver as unknown as { master?: EventEmitter }).master;
  pool?.on('connect', (client: EventEmitter) => {
    client.on('error', (error: { code?: string }) => {
      logger.warn({ pool: applicationName, code: error?.code }, 'database connection lost; it will be replaced');
    });
  });
}

/** The pool's ceilings (docs/security.md#deadlines): no statement, and no wait for a lock, runs longer than these. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/**
 * `statement_timeout` and `lock_timeout` are sent as startup parameters of every pooled connection, so they hold
 * for every statement of the service, requests and jobs alike; transactions on a request's path lower both to the
 * request's remaining budget (shared/deadline.ts boundTransaction).
 */
function createDataSource(options: DataSourceOptions, url: string, pool: { timeouts?: boolean; poolSize?: number } = {}): DataSource {
  const { database } = options;
  const timeouts =
    pool.timeouts === false
      ? {}
      : {
          statement_timeout: database.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
          lock_timeout: database.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
        };
  return new DataSource({
    type: 'postgres',
    url,
    schema: database.schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    installExtensions: false,
    logging: false,
    applicationName: options.applicationName,
    poolSize: pool.poolSize ?? database.poolSize,
    extra: { connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000, ...timeouts },
  });
}

/** Re-run at every start, so tables added by later migrations are covered too. */
async function grantApplicationRole(owner: DataSource, schema: string, appUrl: string, privileges: string): Promise<void> {
  const role = decodeURIComponent(new URL(appUrl).username);
  const [{ current }] = await owner.query('SELECT current_user AS current');
  if (!role || role === current) return;
  if (!/^[A-Z, ]+$/.test(privileges)) throw new Error('privileges must be SQL privilege keywords');
  const quotedRole = `"${role.replace(/"/g, '""')}"`;
  const s = quoteIdent(schema);
  await owner.query(`GRANT USAGE ON SCHEMA ${s} TO ${quotedRole}`);
  await owner.query(`REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${quotedRole}`);
  // The service's tables only: the migrations table stays the owner's. A partitioned table is granted on its
  // parent alone (rows reach its partitions through it), so nothing can be written into a partition directly.
  const tables: { name: string }[] = await owner.query(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'migrations'`,
    [schema],
  );
  for (const { name } of tables) await owner.query(`GRANT ${privileges} ON ${s}.${quoteIdent(name)} TO ${quotedRole}`);
}

async function migrate(dataSource: DataSource, schema: string): Promise<void> {
  const runner = dataSource.createQueryRunner();
  const lockKey = createHash('sha256').update(`privgraph:migrate:${schema}`).digest().readBigInt64BE(0).toString();
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock($1::bigint)', [lockKey]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey]).catch(() => undefined);
    await runner.release();
  }
}

export function quoteIdent(identifier: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(identifier)) throw new Error('unsafe SQL identifier');
  return `"${identifier}"`;
}

/** The quoted schema a migration runs in (migrations are written once and applied to any schema). */
export function migrationSchema(queryRunner: QueryRunner): string {
  const schema = (queryRunner.connection.options as { schema?: string }).schema;
  if (!schema) throw new Error('migrations need a schema');
  return quoteIdent(schema);
}

/** `"schema"."table"` for raw SQL in repositories. */
export function qualifiedTable(dataSource: DataSource, table: string): string {
  const schema = (dataSource.options as { schema?: string }).schema;
  if (!schema) throw new Error('data source has no schema');
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Guards SQL from malformed ids (PostgreSQL would raise a driver error on a uuid cast). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/**
 * Runs an UPDATE or DELETE … RETURNING and gives back its rows. TypeORM's postgres driver answers
 * those statements with `[rows, count]` instead of rows; inside a CTE they read like a SELECT.
 */
export function changedRows<T = Record<string, unknown>>(
  runner: { query(sql: string, params?: unknown[]): Promise<unknown> },
  sql: string,
  params: unknown[],
): Promise<T[]> {
  return runner.query(`WITH changed AS (${sql}) SELECT * FROM changed`, params) as Promise<T[]>;
}

/**
 * Runs work as the schema owner: on the service's own connection when it is the owner, else on a
 * short-lived connection to `<SERVICE>_MIGRATION_DATABASE_URL` (for the rare operation the
 * application role is deliberately not allowed, such as removing an expired audit partition).
 */
export async function withOwnerConnection<T>(database: DatabaseConfig, dataSource: DataSource, work: (owner: DataSource) => Promise<T>): Promise<T> {
  if (!database.migrationUrl) return work(dataSource);
  const owner = new DataSource({ type: 'postgres', url: database.migrationUrl, schema: database.schema, poolSize: 1, applicationName: 'privgraph-owner', logging: false });
  await owner.initialize();
  try {
    return await work(owner);
  } finally {
    await owner.destroy();
  }
}
