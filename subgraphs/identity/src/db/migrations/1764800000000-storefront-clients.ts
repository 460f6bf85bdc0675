import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * The OIDC client ids of a tenant's storefront apps (docs/passports.md): a passport for the tenant is
 * issued only to a subject whose access token was issued to one of them. None by default, so no passport.
 */
export class StorefrontClients1764800000000 implements MigrationInterface {
  name = 'StorefrontClients1764800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      ALTER TABLE ${s}.tenant_settings
        ADD COLUMN storefront_clients text[] NOT NULL DEFAULT '{}' CHECK (cardinality(storefront_clients) <= 20)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.tenant_settings DROP COLUMN storefront_clients`);
  }
}
