import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * Outcomes and unique sequence numbers (docs/audit.md#outcomes, #verifying-the-audit-log).
 *
 * - `outcome`: FAILED on the event recorded when an authorized action failed after its write-ahead
 *   event was committed; null on every other event (and on every event recorded before this column).
 * - `audit_seq`: the partitioned table's key is (seq, occurred_at) — PostgreSQL wants the partition key
 *   in every unique index — so it cannot refuse a second event with a used sequence number. This
 *   unpartitioned ledger can: a statement trigger on the parent claims every inserted seq in it, one
 *   INSERT … SELECT per statement (a batch's COPY is one statement), in the same transaction. Retention
 *   leaves the ledger alone, so a removed event's number is never handed out again either. Like the log,
 *   it refuses UPDATE, DELETE and TRUNCATE.
 */
export class OutcomeAndUniqueSeq1765000000000 implements MigrationInterface {
  name = 'OutcomeAndUniqueSeq1765000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.audit_event ADD COLUMN outcome text CHECK (outcome IN ('FAILED'))`);
    await queryRunner.query(`CREATE INDEX audit_event_outcome_idx ON ${s}.audit_event (outcome, seq DESC) WHERE outcome IS NOT NULL`);
    await queryRunner.query(`CREATE TABLE ${s}.audit_seq (seq bigint PRIMARY KEY CHECK (seq > 0))`);
    // A log that already holds a duplicate keeps it (verification names it); every number is claimed once.
    await queryRunner.query(`INSERT INTO ${s}.audit_seq (seq) SELECT DISTINCT seq FROM ${s}.audit_event`);
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

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TRIGGER audit_event_unique_seq ON ${s}.audit_event`);
    await queryRunner.query(`DROP FUNCTION ${s}.audit_seq_claim()`);
    await queryRunner.query(`DROP TABLE ${s}.audit_seq`);
    await queryRunner.query(`DROP INDEX ${s}.audit_event_outcome_idx`);
    await queryRunner.query(`ALTER TABLE ${s}.audit_event DROP COLUMN outcome`);
  }
}
