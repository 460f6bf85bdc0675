import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * Identity-provider hook events already handled (Logto webhooks), by dedupe key, so that a retried or
 * replayed delivery changes nothing. Only opaque values are kept: the key is a SHA-256 digest, the
 * subject an internal id; the IdP's user id and the payload are never stored.
 */
export class IdpEvents1764400000000 implements MigrationInterface {
  name = 'IdpEvents1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.idp_event (
        event_key text PRIMARY KEY CHECK (event_key ~ '^[0-9a-f]{64}$'),
        provider text NOT NULL CHECK (provider IN ('logto')),
        type text NOT NULL CHECK (char_length(type) BETWEEN 1 AND 100),
        subject_id uuid,
        outcome text NOT NULL CHECK (char_length(outcome) BETWEEN 1 AND 40),
        occurred_at timestamptz NOT NULL,
        handled_at timestamptz NOT NULL
      )`);
    // The latest suspension change of a subject decides (events can arrive out of order).
    await queryRunner.query(`CREATE INDEX idp_event_subject_idx ON ${s}.idp_event (subject_id, type, occurred_at) WHERE subject_id IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.idp_event`);
  }
}
