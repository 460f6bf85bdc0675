import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * Downloads of data exports (GDPR Art. 15, 20). One row per export request: inserting it marks the
 * link's `jti` used and records the download in one statement, so of two concurrent downloads one
 * wins and a second link for the same request cannot be used either.
 */
export class DataExport1764500000000 implements MigrationInterface {
  name = 'DataExport1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.data_export_download (
        request_id uuid PRIMARY KEY,
        jti text NOT NULL,
        subject_id uuid NOT NULL,
        downloaded_at timestamptz NOT NULL,
        CONSTRAINT data_export_download_jti_key UNIQUE (jti)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.data_export_download`);
  }
}
