import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

const COLUMNS = `
  seq bigint NOT NULL CHECK (seq > 0),
  occurred_at timestamptz NOT NULL,
  actor_type text NOT NULL,
  actor_id text,
  tenant_id uuid,
  subject_id uuid,
  action text NOT NULL,
  field text,
  purpose text,
  decision text NOT NULL CHECK (decision IN ('ALLOW', 'DENY')),
  reason text NOT NULL,
  consent_id uuid,
  request_id text NOT NULL,
  prev_hash bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
  hash bytea NOT NULL CHECK (octet_length(hash) = 32)`;

const INDEXES = [
  ['audit_event_tenant_seq_idx', '(tenant_id, seq DESC)'],
  ['audit_event_subject_seq_idx', '(subject_id, seq DESC)'],
  ['audit_event_request_idx', '(request_id)'],
  ['audit_event_time_idx', '(occurred_at, seq)'],
  ['audit_event_tenant_time_idx', '(tenant_id, occurred_at, seq)'],
];

/**
 * Retention: the audit log becomes a table partitioned by month of occurred_at (UTC), so expired
 * events leave by dropping a whole partition, never by DELETE (which stays refused). Partitions are
 * made by `audit_event_partition(at)` (the writer calls it for a month it has not seen; it runs with
 * the owner's rights and only ever creates). Each partition gets the TRUNCATE guard itself (a
 * statement trigger on the parent does not fire for a partition truncated directly); row triggers are
 * inherited. Removed ranges are recorded, signed, in audit_purge so verification bridges the gap.
 * Retention settings and legal holds are append-only, like everything else here.
 */
export class TimePartitions1764100000000 implements MigrationInterface {
  name = 'TimePartitions1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    const schemaName = (queryRunner.connection.options as { schema: string }).schema;
    await queryRunner.query(`ALTER TABLE ${s}.audit_event RENAME TO audit_event_unpartitioned`);
    await queryRunner.query(`ALTER TABLE ${s}.audit_event_unpartitioned RENAME CONSTRAINT audit_event_pkey TO audit_event_unpartitioned_pkey`);
    for (const [name] of INDEXES) await queryRunner.query(`DROP INDEX ${s}.${name}`);
    await queryRunner.query(`CREATE TABLE ${s}.audit_event (${COLUMNS}, PRIMARY KEY (seq, occurred_at)) PARTITION BY RANGE (occurred_at)`);
    for (const [name, columns] of INDEXES) await queryRunner.query(`CREATE INDEX ${name} ON ${s}.audit_event ${columns}`);
    await queryRunner.query(
      `CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON ${s}.audit_event FOR EACH ROW EXECUTE FUNCTION ${s}.audit_event_write_once()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON ${s}.audit_event FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_event_write_once()`,
    );
    const literal = `'${schemaName.replace(/'/g, "''")}'`;
    await queryRunner.query(`
      CREATE FUNCTION ${s}.audit_event_partition(at timestamptz) RETURNS text
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      DECLARE
        month_start timestamp := date_trunc('month', at AT TIME ZONE 'UTC');
        name text := 'audit_event_' || to_char(month_start, 'YYYY_MM');
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('privgraph:audit:partition'));
        IF to_regclass(format('%I.%I', ${literal}, name)) IS NULL THEN
          EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.audit_event FOR VALUES FROM (%L) TO (%L)',
            ${literal}, name, ${literal}, month_start AT TIME ZONE 'UTC', (month_start + interval '1 month') AT TIME ZONE 'UTC');
          EXECUTE format('CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION %I.audit_event_write_once()',
            ${literal}, name, ${literal});
        END IF;
        RETURN name;
      END $$`);
    await queryRunner.query(`
      SELECT ${s}.audit_event_partition(m)
        FROM (SELECT min(occurred_at) AS lo, max(occurred_at) AS hi FROM ${s}.audit_event_unpartitioned) r,
             generate_series(date_trunc('month', r.lo AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', r.hi, interval '1 month') AS m
       WHERE r.lo IS NOT NULL`);
    await queryRunner.query(`SELECT ${s}.audit_event_partition(now())`);
    await queryRunner.query(`INSERT INTO ${s}.audit_event SELECT * FROM ${s}.audit_event_unpartitioned`);
    await queryRunner.query(`DROP TABLE ${s}.audit_event_unpartitioned`);

    // Removed partitions: the runs of sequence numbers each took away and the hash each run ended
    // with (what verification needs to bridge the gap), as a JWS signed by the platform key.
    await queryRunner.query(`
      CREATE TABLE ${s}.audit_purge (
        id uuid PRIMARY KEY,
        partition_name text NOT NULL,
        range_from timestamptz NOT NULL,
        range_to timestamptz NOT NULL,
        events bigint NOT NULL,
        purged_at timestamptz NOT NULL,
        record text NOT NULL
      )`);
    // Per-tenant retention (the latest row per tenant is in force) and legal holds with their releases.
    await queryRunner.query(`
      CREATE TABLE ${s}.audit_retention (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id uuid NOT NULL,
        days integer NOT NULL CHECK (days BETWEEN 1 AND 36500),
        set_at timestamptz NOT NULL,
        set_by text NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX audit_retention_tenant_idx ON ${s}.audit_retention (tenant_id, id DESC)`);
    await queryRunner.query(`
      CREATE TABLE ${s}.audit_legal_hold (
        id uuid PRIMARY KEY,
        tenant_id uuid,
        subject_id uuid,
        reason text NOT NULL,
        placed_at timestamptz NOT NULL,
        placed_by text NOT NULL,
        CHECK ((tenant_id IS NULL) <> (subject_id IS NULL))
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.audit_legal_hold_release (
        hold_id uuid PRIMARY KEY REFERENCES ${s}.audit_legal_hold (id),
        reason text NOT NULL,
        released_at timestamptz NOT NULL,
        released_by text NOT NULL
      )`);
    for (const table of ['audit_purge', 'audit_retention', 'audit_legal_hold', 'audit_legal_hold_release']) {
      await queryRunner.query(`CREATE TRIGGER ${table}_no_update_delete BEFORE UPDATE OR DELETE ON ${s}.${table} FOR EACH ROW EXECUTE FUNCTION ${s}.audit_event_write_once()`);
      await queryRunner.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${s}.${table} FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_event_write_once()`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    for (const table of ['audit_legal_hold_release', 'audit_legal_hold', 'audit_retention', 'audit_purge']) await queryRunner.query(`DROP TABLE ${s}.${table}`);
    await queryRunner.query(`ALTER TABLE ${s}.audit_event RENAME TO audit_event_partitioned`);
    await queryRunner.query(`ALTER TABLE ${s}.audit_event_partitioned RENAME CONSTRAINT audit_event_pkey TO audit_event_partitioned_pkey`);
    for (const [name] of INDEXES) await queryRunner.query(`DROP INDEX ${s}.${name}`);
    await queryRunner.query(`CREATE TABLE ${s}.audit_event (${COLUMNS.replace('seq bigint NOT NULL', 'seq bigint PRIMARY KEY')})`);
    for (const [name, columns] of INDEXES) await queryRunner.query(`CREATE INDEX ${name} ON ${s}.audit_event ${columns}`);
    await queryRunner.query(`INSERT INTO ${s}.audit_event SELECT * FROM ${s}.audit_event_partitioned`);
    await queryRunner.query(`DROP TABLE ${s}.audit_event_partitioned CASCADE`);
    await queryRunner.query(`DROP FUNCTION ${s}.audit_event_partition(timestamptz)`);
    await queryRunner.query(
      `CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON ${s}.audit_event FOR EACH ROW EXECUTE FUNCTION ${s}.audit_event_write_once()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON ${s}.audit_event FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_event_write_once()`,
    );
  }
}
