import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * Policy versions (a tenant's published policy text by hash and URL, with the purposes it declares) and
 * signed consent receipts. Both are evidence (GDPR Art. 7(1)): rows are never changed or removed.
 */
export class PoliciesReceipts1764000000000 implements MigrationInterface {
  name = 'PoliciesReceipts1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.policy_version (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id uuid NOT NULL,
        version text NOT NULL,
        url text NOT NULL,
        text_hash text NOT NULL CHECK (text_hash ~ '^[0-9a-f]{64}$'),
        effective_at timestamptz NOT NULL,
        published_at timestamptz NOT NULL,
        purposes jsonb NOT NULL,
        UNIQUE (tenant_id, version)
      )`);
    await queryRunner.query(`CREATE INDEX policy_version_current_idx ON ${s}.policy_version (tenant_id, effective_at DESC, seq DESC)`);
    await queryRunner.query(`
      CREATE TABLE ${s}.consent_receipt (
        id uuid PRIMARY KEY,
        consent_id uuid NOT NULL REFERENCES ${s}.consent (id),
        subject_id uuid NOT NULL,
        tenant_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('GRANT', 'WITHDRAWAL')),
        issued_at timestamptz NOT NULL,
        jws text NOT NULL,
        UNIQUE (consent_id, kind)
      )`);
    await queryRunner.query(`ALTER TABLE ${s}.consent ADD COLUMN collection_method text`);
    for (const table of ['policy_version', 'consent_receipt']) {
      await queryRunner.query(`
        CREATE TRIGGER ${table}_no_change BEFORE UPDATE OR DELETE ON ${s}.${table}
        FOR EACH ROW EXECUTE FUNCTION ${s}.consent_event_append_only()`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.consent DROP COLUMN collection_method`);
    await queryRunner.query(`DROP TABLE ${s}.consent_receipt`);
    await queryRunner.query(`DROP TABLE ${s}.policy_version`);
  }
}
