import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { DataSource, type EntitySchema, type MigrationInterface, type QueryRunner } from 'typeorm';
import type { DatabaseConfig } from '../config';

export interface DataSourceOptions {
  database: DatabaseConfig;
  entities: EntitySchema[];
  migrations: (new () => MigrationInterface)[];
  applicationName: string;
}

/**
 * A TypeORM DataSource bound to the service's own schema. Schema changes go through migrations only
 * (never `synchronize`); they run under an advisory lock so several replicas can start at once.
 */
export async function openDataSource(options: DataSourceOptions): Promise<DataSource> {
  const { database } = options;
  const dataSource = new DataSource({
    type: 'postgres',
    url: database.url,
    schema: database.schema,
    entities: options.entities,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    installExtensions: false,
    logging: false,
    applicationName: options.applicationName,
    poolSize: database.poolSize,
    extra: { connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 },
  });
  await dataSource.initialize();
  try {
    await migrate(dataSource, database.schema);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
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
