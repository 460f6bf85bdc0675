import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * A transactional outbox for the webhooks shops receive (consent.granted, consent.withdrawn): a row is
 * written in the same transaction as the grant or withdrawal and relayed to identity afterwards, so an
 * event exists exactly when its change committed and is never lost when identity is unreachable.
 */
export class Outbox1764300000000 implements MigrationInterface {
  name = 'Outbox1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.webhook_outbox (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        type text NOT NULL CHECK (type IN ('consent.granted', 'consent.withdrawn')),
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        relayed_at timestamptz,
        attempts integer NOT NULL DEFAULT 0
      )`);
    await queryRunner.query(`CREATE INDEX webhook_outbox_unsent_idx ON ${s}.webhook_outbox (created_at) WHERE relayed_at IS NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.webhook_outbox`);
  }
}
