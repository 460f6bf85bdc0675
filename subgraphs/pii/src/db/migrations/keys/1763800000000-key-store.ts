import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../../shared/db/data-source';

/**
 * A region's key store: wrapped data keys, apart from the ciphertexts they protect, so destroying a
 * subject's keys here makes every copy of their ciphertexts (backups included) undecryptable.
 * A subject has one generation per re-key; fields name the generation they were sealed under.
 */
export class KeyStore1763800000000 implements MigrationInterface {
  name = 'KeyStore1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.data_key (
        subject_id uuid NOT NULL,
        generation int NOT NULL,
        wrapped text NOT NULL,
        kek_version int NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (subject_id, generation)
      )`);
    await queryRunner.query(`CREATE INDEX data_key_by_kek_version ON ${s}.data_key (kek_version, subject_id, generation)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${migrationSchema(queryRunner)}.data_key`);
  }
}
