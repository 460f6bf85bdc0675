import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

export class Initial1732250000000 implements MigrationInterface {
  name = 'Initial1732250000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.subject (
        id uuid PRIMARY KEY,
        issuer text NOT NULL,
        sub text NOT NULL,
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'BLOCKED')),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT subject_issuer_sub_key UNIQUE (issuer, sub)
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.tenant (
        id uuid PRIMARY KEY,
        name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        idp_organization_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT tenant_idp_organization_id_key UNIQUE (idp_organization_id)
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.tenant_link (
        tenant_id uuid NOT NULL REFERENCES ${s}.tenant (id),
        subject_id uuid NOT NULL REFERENCES ${s}.subject (id),
        ref text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, subject_id),
        CONSTRAINT tenant_link_tenant_ref_key UNIQUE (tenant_id, ref)
      )`);
    await queryRunner.query(`CREATE INDEX tenant_link_subject_idx ON ${s}.tenant_link (subject_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.tenant_link`);
    await queryRunner.query(`DROP TABLE ${s}.tenant`);
    await queryRunner.query(`DROP TABLE ${s}.subject`);
  }
}
