import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

export class Initial1732250000000 implements MigrationInterface {
  name = 'Initial1732250000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.audit_event (
        seq bigint PRIMARY KEY CHECK (seq > 0),
        occurred_at timestamptz NOT NULL,
        actor_type text NOT NULL,
        actor_id text,
        tenant_id uuid,
        subject_id uuid,
        action text NOT NULL,
        field text,
        purpose text,
        decision text NOT NULL CHECK (decision IN ('ALLOW', 'DENY')),
        reason text NOT NULL,
        consent_id uuid,
        request_id text NOT NULL,
        prev_hash bytea NOT NULL CHECK (octet_length(prev_hash) = 32),
        hash bytea NOT NULL CHECK (octet_length(hash) = 32)
      )`);
    await queryRunner.query(`CREATE INDEX audit_event_tenant_seq_idx ON ${s}.audit_event (tenant_id, seq DESC)`);
    await queryRunner.query(`CREATE INDEX audit_event_subject_seq_idx ON ${s}.audit_event (subject_id, seq DESC)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE ${migrationSchema(queryRunner)}.audit_event`);
  }
}
