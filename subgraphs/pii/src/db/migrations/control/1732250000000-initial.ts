import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../../shared/db/data-source';

export class Initial1732250000000 implements MigrationInterface {
  name = 'Initial1732250000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.subject_key (
        subject_id uuid PRIMARY KEY,
        wrapped_dek bytea NOT NULL,
        kek_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.pii_field (
        subject_id uuid NOT NULL REFERENCES ${s}.subject_key (subject_id),
        field text NOT NULL,
        ciphertext bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (subject_id, field)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.pii_field`);
    await queryRunner.query(`DROP TABLE ${s}.subject_key`);
  }
}
