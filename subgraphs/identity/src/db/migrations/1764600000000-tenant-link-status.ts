import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * A tenant admin's block of a user lives on the tenant link: it holds for that shop only, while a
 * platform-wide suspension stays the subject's own status. The reason is in the audit log, not here.
 */
export class TenantLinkStatus1764600000000 implements MigrationInterface {
  name = 'TenantLinkStatus1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      ALTER TABLE ${s}.tenant_link
        ADD COLUMN status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'BLOCKED')),
        ADD COLUMN status_changed_at timestamptz`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.tenant_link DROP COLUMN status_changed_at, DROP COLUMN status`);
  }
}
