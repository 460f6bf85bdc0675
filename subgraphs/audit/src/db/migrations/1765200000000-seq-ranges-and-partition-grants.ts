import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

const ORIGIN_SHAPE_1765100000000 = `'^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}0/24$|^[0-9a-f:]{2,39}/48$|^hmac:[A-Za-z0-9_-]{43}$'`;
/** Exactly what shared/origin.ts writes (ORIGIN_PATTERN): an IPv6 /48 is at most three groups, then `::/48`. */
const ORIGIN_SHAPE = `'^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}0/24$|^([0-9a-f]{1,4}(:[0-9a-f]{1,4}){0,2})?::/48$|^hmac:[A-Za-z0-9_-]{43}$'`;

/**
 * Sequence numbers unique by construction, whichever table an INSERT names (docs/audit.md#unique-sequence-numbers).
 *
 * - `audit_seq_range` replaces the per-event ledger `audit_seq`: one row per INSERT or COPY statement, the
 *   range min..max of the statement's numbers, and an exclusion constraint (GiST on int8range, built in)
 *   refuses any range that overlaps one already claimed. The claiming statement trigger also refuses a
 *   statement whose numbers are not distinct and contiguous, so the range stands for exactly its rows.
 *   One ledger row per batch instead of one per event. Existing claims are carried over as runs.
 * - The trigger sits on the parent and on every partition (a statement trigger on the parent does not fire
 *   for an INSERT that names a partition; one on a partition does not fire for rows routed through the
 *   parent), and `audit_event_partition()` gives each new partition its own.
 * - The application role gets privileges on the parent only (shared/db/data-source.ts grantApplicationRole
 *   skips partitions); whatever was granted on existing partitions is revoked here. Partitions are created
 *   by the owner's function and carry no grants.
 * - The client_origin check becomes exactly the shape shared/origin.ts produces (a full IPv6 address
 *   followed by /48 passed the old one).
 */
export class SeqRangesAndPartitionGrants1765200000000 implements MigrationInterface {
  name = 'SeqRangesAndPartitionGrants1765200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    const schemaName = (queryRunner.connection.options as { schema: string }).schema;
    const literal = `'${schemaName.replace(/'/g, "''")}'`;
    await queryRunner.query(`
      CREATE TABLE ${s}.audit_seq_range (
        seqs int8range NOT NULL CHECK (NOT isempty(seqs) AND lower(seqs) > 0 AND NOT upper_inf(seqs)),
        CONSTRAINT audit_seq_range_no_overlap EXCLUDE USING gist (seqs WITH &&)
      )`);
    // Every number claimed so far (and any event written with triggers off), as runs of consecutive numbers.
    await queryRunner.query(`
      INSERT INTO ${s}.audit_seq_range (seqs)
      SELECT int8range(min(seq), max(seq), '[]')
        FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS run
                FROM (SELECT seq FROM ${s}.audit_seq UNION SELECT seq FROM ${s}.audit_event) claimed) numbered
       GROUP BY run`);
    await queryRunner.query(`DROP TRIGGER audit_event_unique_seq ON ${s}.audit_event`);
    await queryRunner.query(`DROP FUNCTION ${s}.audit_seq_claim()`);
    await queryRunner.query(`DROP TABLE ${s}.audit_seq`);
    await queryRunner.query(`
      CREATE FUNCTION ${s}.audit_seq_claim() RETURNS trigger
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      DECLARE
        lo bigint;
        hi bigint;
        n bigint;
        d bigint;
      BEGIN
        SELECT min(seq), max(seq), count(*), count(DISTINCT seq) INTO lo, hi, n, d FROM new_rows;
        IF n = 0 THEN
          RETURN NULL;
        END IF;
        IF d <> n OR hi - lo + 1 <> n THEN
          RAISE EXCEPTION 'audit sequence numbers of one statement must be distinct and contiguous' USING ERRCODE = 'unique_violation';
        END IF;
        INSERT INTO ${s}.audit_seq_range (seqs) VALUES (int8range(lo, hi, '[]'));
        RETURN NULL;
      END $$`);
    await queryRunner.query(
      `CREATE TRIGGER audit_event_unique_seq AFTER INSERT ON ${s}.audit_event REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_seq_claim()`,
    );
    await queryRunner.query(`CREATE TRIGGER audit_seq_range_no_update_delete BEFORE UPDATE OR DELETE ON ${s}.audit_seq_range FOR EACH ROW EXECUTE FUNCTION ${s}.audit_event_write_once()`);
    await queryRunner.query(`CREATE TRIGGER audit_seq_range_no_truncate BEFORE TRUNCATE ON ${s}.audit_seq_range FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_event_write_once()`);

    // Each partition claims what is inserted into it directly, and keeps no privileges of anyone but its owner.
    await queryRunner.query(`
      DO $$
      DECLARE
        part record;
        grantee record;
      BEGIN
        FOR part IN SELECT c.oid::regclass AS rel, c.relacl, c.relowner FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                     WHERE i.inhparent = '${s}.audit_event'::regclass
        LOOP
          EXECUTE format('CREATE TRIGGER audit_event_unique_seq AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %s.audit_seq_claim()',
            part.rel, '${s}');
          FOR grantee IN SELECT DISTINCT a.grantee FROM aclexplode(part.relacl) a WHERE a.grantee <> part.relowner
          LOOP
            EXECUTE format('REVOKE ALL ON %s FROM %s', part.rel, CASE WHEN grantee.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(grantee.grantee)) END);
          END LOOP;
        END LOOP;
      END $$`);
    await queryRunner.query(partitionFunction(s, literal, true));

    await queryRunner.query(
      `ALTER TABLE ${s}.audit_event DROP CONSTRAINT audit_event_client_origin_shape,
         ADD CONSTRAINT audit_event_client_origin_shape CHECK (client_origin ~ ${ORIGIN_SHAPE})`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    const schemaName = (queryRunner.connection.options as { schema: string }).schema;
    const literal = `'${schemaName.replace(/'/g, "''")}'`;
    await queryRunner.query(
      `ALTER TABLE ${s}.audit_event DROP CONSTRAINT audit_event_client_origin_shape,
         ADD CONSTRAINT audit_event_client_origin_shape CHECK (client_origin ~ ${ORIGIN_SHAPE_1765100000000})`,
    );
    await queryRunner.query(partitionFunction(s, literal, false));
    await queryRunner.query(`
      DO $$
      DECLARE part record;
      BEGIN
        FOR part IN SELECT c.oid::regclass AS rel FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '${s}.audit_event'::regclass
        LOOP
          EXECUTE format('DROP TRIGGER IF EXISTS audit_event_unique_seq ON %s', part.rel);
        END LOOP;
      END $$`);
    await queryRunner.query(`DROP TRIGGER audit_event_unique_seq ON ${s}.audit_event`);
    await queryRunner.query(`DROP FUNCTION ${s}.audit_seq_claim()`);
    await queryRunner.query(`CREATE TABLE ${s}.audit_seq (seq bigint PRIMARY KEY CHECK (seq > 0))`);
    await queryRunner.query(`INSERT INTO ${s}.audit_seq (seq) SELECT generate_series(lower(seqs), upper(seqs) - 1) FROM ${s}.audit_seq_range`);
    await queryRunner.query(`DROP TABLE ${s}.audit_seq_range`);
    await queryRunner.query(`
      CREATE FUNCTION ${s}.audit_seq_claim() RETURNS trigger
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      BEGIN
        INSERT INTO ${s}.audit_seq (seq) SELECT seq FROM new_rows;
        RETURN NULL;
      END $$`);
    await queryRunner.query(
      `CREATE TRIGGER audit_event_unique_seq AFTER INSERT ON ${s}.audit_event REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_seq_claim()`,
    );
    await queryRunner.query(`CREATE TRIGGER audit_seq_no_update_delete BEFORE UPDATE OR DELETE ON ${s}.audit_seq FOR EACH ROW EXECUTE FUNCTION ${s}.audit_event_write_once()`);
    await queryRunner.query(`CREATE TRIGGER audit_seq_no_truncate BEFORE TRUNCATE ON ${s}.audit_seq FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_event_write_once()`);
  }
}

/** audit_event_partition() as 1764100000000 made it, and (claims) with each new partition's own seq claim trigger. */
function partitionFunction(s: string, literal: string, claims: boolean): string {
  const claim = claims
    ? `
          EXECUTE format('CREATE TRIGGER audit_event_unique_seq AFTER INSERT ON %I.%I REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %I.audit_seq_claim()',
            ${literal}, name, ${literal});`
    : '';
  return `
      CREATE OR REPLACE FUNCTION ${s}.audit_event_partition(at timestamptz) RETURNS text
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
            ${literal}, name, ${literal});${claim}
        END IF;
        RETURN name;
      END $$`;
}
