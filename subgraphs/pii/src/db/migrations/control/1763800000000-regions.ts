import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../../shared/db/data-source';

/**
 * Profiles move into per-region stores; this schema keeps only what holds no personal data: which
 * region each subject lives in, and key-rotation jobs. The single store of privgraph 0.1 is dropped
 * when empty; if it still holds profiles the migration stops, so no data is ever dropped silently.
 */
export class Regions1763800000000 implements MigrationInterface {
  name = 'Regions1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    const [{ count }] = await queryRunner.query(`SELECT count(*)::int AS count FROM ${s}.subject_key`);
    if (count > 0) {
      throw new Error(
        `${s} holds ${count} profiles stored before regions existed; export them (as their subjects) and erase them, ` +
          'or start from an empty data directory, before upgrading',
      );
    }
    await queryRunner.query(`DROP TABLE ${s}.pii_field`);
    await queryRunner.query(`DROP TABLE ${s}.subject_key`);
    await queryRunner.query(`
      CREATE TABLE ${s}.subject_placement (
        subject_id uuid PRIMARY KEY,
        region text NOT NULL,
        placed_at timestamptz NOT NULL,
        moving_to text
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.key_rotation (
        id uuid PRIMARY KEY,
        region text NOT NULL,
        key_id text NOT NULL,
        target_version int NOT NULL,
        status text NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED')),
        total int NOT NULL,
        done int NOT NULL DEFAULT 0,
        failed int NOT NULL DEFAULT 0,
        cursor_subject uuid,
        cursor_generation int,
        error_code text,
        requested_by text NOT NULL,
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        finished_at timestamptz,
        lease_owner text,
        lease_until timestamptz
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX key_rotation_one_running ON ${s}.key_rotation (region) WHERE status = 'RUNNING'`);
    await queryRunner.query(`CREATE INDEX key_rotation_by_region ON ${s}.key_rotation (region, started_at DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.key_rotation`);
    await queryRunner.query(`DROP TABLE ${s}.subject_placement`);
    await queryRunner.query(`CREATE TABLE ${s}.subject_key (subject_id uuid PRIMARY KEY, wrapped_dek bytea NOT NULL, kek_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
    await queryRunner.query(
      `CREATE TABLE ${s}.pii_field (subject_id uuid NOT NULL REFERENCES ${s}.subject_key (subject_id), field text NOT NULL, ciphertext bytea NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (subject_id, field))`,
    );
  }
}
