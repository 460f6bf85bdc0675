import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

export class Initial1732250000000 implements MigrationInterface {
  name = 'Initial1732250000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.consent (
        id uuid PRIMARY KEY,
        subject_id uuid NOT NULL,
        tenant_id uuid NOT NULL,
        purpose text NOT NULL,
        categories text[] NOT NULL CHECK (cardinality(categories) > 0),
        policy_version text NOT NULL,
        granted_at timestamptz NOT NULL,
        expires_at timestamptz,
        withdrawn_at timestamptz,
        superseded_at timestamptz
      )`);
    // At most one open consent per subject, tenant and purpose: a new grant supersedes the old one.
    await queryRunner.query(`
      CREATE UNIQUE INDEX consent_open_key ON ${s}.consent (subject_id, tenant_id, purpose)
      WHERE withdrawn_at IS NULL AND superseded_at IS NULL`);
    await queryRunner.query(`CREATE INDEX consent_tenant_purpose_idx ON ${s}.consent (tenant_id, purpose, subject_id)`);
    await queryRunner.query(`
      CREATE TABLE ${s}.consent_event (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        consent_id uuid NOT NULL REFERENCES ${s}.consent (id),
        subject_id uuid NOT NULL,
        tenant_id uuid NOT NULL,
        type text NOT NULL CHECK (type IN ('GRANTED', 'WITHDRAWN', 'SUPERSEDED')),
        occurred_at timestamptz NOT NULL,
        purpose text NOT NULL,
        categories text[] NOT NULL,
        policy_version text NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX consent_event_subject_idx ON ${s}.consent_event (subject_id, id)`);
    await queryRunner.query(`
      CREATE FUNCTION ${s}.consent_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'consent history is append-only';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER consent_event_no_change BEFORE UPDATE OR DELETE ON ${s}.consent_event
      FOR EACH ROW EXECUTE FUNCTION ${s}.consent_event_append_only()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.consent_event`);
    await queryRunner.query(`DROP FUNCTION ${s}.consent_event_append_only()`);
    await queryRunner.query(`DROP TABLE ${s}.consent`);
  }
}
