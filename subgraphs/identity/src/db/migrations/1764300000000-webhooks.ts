import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';

/**
 * Webhooks to shops (Standard Webhooks): a tenant's endpoints with their signing secrets (the previous
 * one kept for 24 h after a rotation), the events (the outbox: written in the same transaction as the
 * change they report) and one delivery per event and endpoint with its attempts.
 */
export class Webhooks1764300000000 implements MigrationInterface {
  name = 'Webhooks1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.webhook_endpoint (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES ${s}.tenant (id),
        url text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
        description text CHECK (char_length(description) <= 500),
        events text[] NOT NULL CHECK (cardinality(events) > 0),
        status text NOT NULL CHECK (status IN ('ENABLED', 'DISABLED', 'DELETED')),
        secret text,
        previous_secret text,
        previous_secret_expires_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CHECK (status = 'DELETED' OR secret IS NOT NULL)
      )`);
    await queryRunner.query(`CREATE INDEX webhook_endpoint_tenant_idx ON ${s}.webhook_endpoint (tenant_id) WHERE status <> 'DELETED'`);
    await queryRunner.query(`
      CREATE TABLE ${s}.webhook_event (
        id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
        tenant_id uuid NOT NULL,
        type text NOT NULL,
        data jsonb NOT NULL,
        occurred_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX webhook_event_tenant_idx ON ${s}.webhook_event (tenant_id, occurred_at)`);
    await queryRunner.query(`
      CREATE TABLE ${s}.webhook_delivery (
        id uuid PRIMARY KEY,
        event_id text NOT NULL REFERENCES ${s}.webhook_event (id),
        endpoint_id uuid NOT NULL REFERENCES ${s}.webhook_endpoint (id),
        tenant_id uuid NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
        attempts integer NOT NULL DEFAULT 0,
        cycle_attempts integer NOT NULL DEFAULT 0,
        last_http_status integer,
        last_error text,
        last_attempt_at timestamptz,
        next_attempt_at timestamptz,
        deadline_at timestamptz NOT NULL,
        lease_until timestamptz,
        job_token uuid NOT NULL,
        delivered_at timestamptz,
        created_at timestamptz NOT NULL,
        CONSTRAINT webhook_delivery_event_endpoint_key UNIQUE (event_id, endpoint_id)
      )`);
    await queryRunner.query(`CREATE INDEX webhook_delivery_tenant_idx ON ${s}.webhook_delivery (tenant_id, created_at DESC, id DESC)`);
    await queryRunner.query(`CREATE INDEX webhook_delivery_pending_idx ON ${s}.webhook_delivery (next_attempt_at) WHERE status = 'PENDING'`);
    await queryRunner.query(`CREATE INDEX webhook_delivery_endpoint_idx ON ${s}.webhook_delivery (endpoint_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE ${s}.webhook_delivery`);
    await queryRunner.query(`DROP TABLE ${s}.webhook_event`);
    await queryRunner.query(`DROP TABLE ${s}.webhook_endpoint`);
  }
}
