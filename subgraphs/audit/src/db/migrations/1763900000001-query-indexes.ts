import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * Indexes for the filters people use at scale (measured on 1M events): one request's decisions, and
 * time ranges (export pages walk (occurred_at, seq), alone or within one tenant).
 */
export class QueryIndexes1763900000001 implements MigrationInterface {
  name = 'QueryIndexes1763900000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`CREATE INDEX audit_event_request_idx ON ${s}.audit_event (request_id)`);
    await queryRunner.query(`CREATE INDEX audit_event_time_idx ON ${s}.audit_event (occurred_at, seq)`);
    await queryRunner.query(`CREATE INDEX audit_event_tenant_time_idx ON ${s}.audit_event (tenant_id, occurred_at, seq)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    for (const index of ['audit_event_tenant_time_idx', 'audit_event_time_idx', 'audit_event_request_idx']) await queryRunner.query(`DROP INDEX ${s}.${index}`);
  }
}
