import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * The audit log is write-once in the database itself: UPDATE and DELETE are rejected per row and
 * TRUNCATE per statement, for every role including the owner. Changing that takes a deliberate step
 * (disabling the triggers), which the hash chain and signed checkpoints then expose. Where a separate
 * application role is configured it also lacks the privileges (see openDataSource's appPrivileges).
 */
export class WriteOnce1763900000000 implements MigrationInterface {
  name = 'WriteOnce1763900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE FUNCTION ${s}.audit_event_write_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the audit log is write-once: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
      END
      $$`);
    await queryRunner.query(
      `CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON ${s}.audit_event FOR EACH ROW EXECUTE FUNCTION ${s}.audit_event_write_once()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON ${s}.audit_event FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_event_write_once()`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TRIGGER audit_event_no_truncate ON ${s}.audit_event`);
    await queryRunner.query(`DROP TRIGGER audit_event_no_update_delete ON ${s}.audit_event`);
    await queryRunner.query(`DROP FUNCTION ${s}.audit_event_write_once()`);
  }
}
