import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../../shared/db/data-source';

/** A region's data store: ciphertexts and blind-index entries. Its data keys live in the key store. */
export class RegionStore1763800000000 implements MigrationInterface {
  name = 'RegionStore1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.pii_field (
        subject_id uuid NOT NULL,
        field text NOT NULL,
        key_generation int NOT NULL,
        ciphertext bytea NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (subject_id, field)
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.blind_index (
        kind text NOT NULL CHECK (kind IN ('email', 'phone')),
        digest bytea NOT NULL,
        subject_id uuid NOT NULL,
        PRIMARY KEY (kind, digest, subject_id)
      )`);
    await queryRunner.query(`CREATE INDEX blind_index_by_subject ON ${s}.blind_index (subject_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.blind_index`);
    await queryRunner.query(`DROP TABLE ${s}.pii_field`);
  }
}
