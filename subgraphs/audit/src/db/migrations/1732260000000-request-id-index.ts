import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/** Looking up every decision of one request (auditEvents(filter: { requestId })) without a scan. */
export class RequestIdIndex1732260000000 implements MigrationInterface {
  name = 'RequestIdIndex1732260000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX audit_event_request_idx ON ${migrationSchema(queryRunner)}.audit_event (request_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX ${migrationSchema(queryRunner)}.audit_event_request_idx`);
  }
}
