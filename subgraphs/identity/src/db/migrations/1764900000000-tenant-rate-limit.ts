import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * A tenant's rate-limit budget (docs/security.md#rate-limits), set by a platform admin: the points per
 * window each of the tenant's backends and members may spend at the gateway. NULL = the deployment
 * default (RATE_LIMIT_POINTS).
 */
export class TenantRateLimit1764900000000 implements MigrationInterface {
  name = 'TenantRateLimit1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      ALTER TABLE ${s}.tenant_settings
        ADD COLUMN rate_limit_points integer CHECK (rate_limit_points BETWEEN 1 AND 1000000000)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.tenant_settings DROP COLUMN rate_limit_points`);
  }
}
