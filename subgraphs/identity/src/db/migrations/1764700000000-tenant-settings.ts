import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * Per-tenant settings the gateway enforces (docs/safelisting.md, docs/cors.md): the safelist mode, the
 * browser origins the tenant's frontends run on, its registered persisted operations (id = SHA-256 of
 * the body) and the REPORT counts of documents the safelist would have refused. A tenant without a
 * settings row has the defaults: mode OFF, no origins.
 */
export class TenantSettings1764700000000 implements MigrationInterface {
  name = 'TenantSettings1764700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.tenant_settings (
        tenant_id uuid PRIMARY KEY REFERENCES ${s}.tenant (id),
        safelist_mode text NOT NULL DEFAULT 'OFF' CHECK (safelist_mode IN ('OFF', 'REPORT', 'ENFORCE')),
        allowed_origins text[] NOT NULL DEFAULT '{}' CHECK (cardinality(allowed_origins) <= 20),
        reported_count bigint NOT NULL DEFAULT 0 CHECK (reported_count >= 0),
        updated_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.persisted_operation (
        tenant_id uuid NOT NULL REFERENCES ${s}.tenant (id),
        operation_id text NOT NULL CHECK (operation_id ~ '^[0-9a-f]{64}$'),
        name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
        type text NOT NULL CHECK (type IN ('query', 'mutation')),
        body text NOT NULL CHECK (octet_length(body) BETWEEN 1 AND 16384),
        registered_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, operation_id)
      )`);
    // Hash-only requests look a body up by id alone: every tenant's body with that id is the same text.
    await queryRunner.query(`CREATE INDEX persisted_operation_id_idx ON ${s}.persisted_operation (operation_id)`);
    await queryRunner.query(`
      CREATE TABLE ${s}.safelist_report (
        tenant_id uuid NOT NULL REFERENCES ${s}.tenant (id),
        operation_id text NOT NULL CHECK (operation_id ~ '^[0-9a-f]{64}$'),
        operation_name text CHECK (char_length(operation_name) BETWEEN 1 AND 100),
        count bigint NOT NULL CHECK (count > 0),
        first_seen_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, operation_id)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.safelist_report`);
    await queryRunner.query(`DROP TABLE ${s}.persisted_operation`);
    await queryRunner.query(`DROP TABLE ${s}.tenant_settings`);
  }
}
