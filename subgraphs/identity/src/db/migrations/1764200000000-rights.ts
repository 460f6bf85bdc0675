import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * Data subject requests (GDPR Art. 12, 15, 17, 20): the request with its deadline, one row per
 * system the request must reach, and the tenants to be told (with the ref each one knew). A subject
 * can now also be ERASED: a tombstone no token can ever be mapped onto again.
 */
export class Rights1764200000000 implements MigrationInterface {
  name = 'Rights1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.subject DROP CONSTRAINT IF EXISTS subject_status_check`);
    await queryRunner.query(`ALTER TABLE ${s}.subject ADD CONSTRAINT subject_status_check CHECK (status IN ('ACTIVE', 'BLOCKED', 'ERASED'))`);
    await queryRunner.query(`ALTER TABLE ${s}.subject ADD COLUMN erased_at timestamptz`);
    await queryRunner.query(`
      CREATE TABLE ${s}.data_subject_request (
        id uuid PRIMARY KEY,
        subject_id uuid NOT NULL REFERENCES ${s}.subject (id),
        kind text NOT NULL CHECK (kind IN ('ERASURE', 'EXPORT')),
        status text NOT NULL CHECK (status IN ('RECEIVED', 'IN_PROGRESS', 'COMPLETED')),
        opened_by text NOT NULL CHECK (opened_by IN ('SUBJECT', 'PLATFORM_ADMIN', 'IDP')),
        reason text,
        received_at timestamptz NOT NULL,
        due_at timestamptz NOT NULL,
        extended_months integer NOT NULL DEFAULT 0 CHECK (extended_months BETWEEN 0 AND 2),
        extension_reason text,
        extension_notice_due_at timestamptz,
        legal_hold boolean NOT NULL DEFAULT false,
        -- The account at the identity provider, kept only until the provider has deleted it.
        idp_issuer text,
        idp_user_id text,
        completed_at timestamptz,
        downloaded_at timestamptz
      )`);
    await queryRunner.query(`CREATE INDEX data_subject_request_subject_idx ON ${s}.data_subject_request (subject_id, received_at)`);
    await queryRunner.query(`CREATE INDEX data_subject_request_queue_idx ON ${s}.data_subject_request ((completed_at IS NOT NULL), due_at, id)`);
    // At most one open erasure per subject: a second request returns the first.
    await queryRunner.query(`CREATE UNIQUE INDEX data_subject_request_open_erasure_key ON ${s}.data_subject_request (subject_id) WHERE kind = 'ERASURE' AND completed_at IS NULL`);
    await queryRunner.query(`
      CREATE TABLE ${s}.dsr_step (
        request_id uuid NOT NULL REFERENCES ${s}.data_subject_request (id),
        system text NOT NULL,
        position integer NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'WAITING', 'DONE', 'SKIPPED', 'IMPOSSIBLE')),
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        detail text,
        updated_at timestamptz NOT NULL,
        completed_at timestamptz,
        PRIMARY KEY (request_id, system)
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.dsr_recipient (
        request_id uuid NOT NULL REFERENCES ${s}.data_subject_request (id),
        tenant_id uuid NOT NULL REFERENCES ${s}.tenant (id),
        ref text NOT NULL,
        erased_event_id text,
        PRIMARY KEY (request_id, tenant_id)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.dsr_recipient`);
    await queryRunner.query(`DROP TABLE ${s}.dsr_step`);
    await queryRunner.query(`DROP TABLE ${s}.data_subject_request`);
    await queryRunner.query(`ALTER TABLE ${s}.subject DROP COLUMN erased_at`);
    await queryRunner.query(`ALTER TABLE ${s}.subject DROP CONSTRAINT subject_status_check`);
    await queryRunner.query(`ALTER TABLE ${s}.subject ADD CONSTRAINT subject_status_check CHECK (status IN ('ACTIVE', 'BLOCKED'))`);
  }
}
