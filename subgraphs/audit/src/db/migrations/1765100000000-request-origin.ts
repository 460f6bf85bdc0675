import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from '../../../../../shared/db/data-source';
import { USER_AGENT_CLASSES } from '../../../../../shared/origin';

/**
 * Where a request came from (docs/audit.md#request-origin): the client's network, truncated (/24, /48)
 * or keyed-hashed, and the class of its user agent. Null on every event recorded before these columns
 * (which therefore hash as before) and on events no request asked for. The checks hold the table to
 * the shapes shared/origin.ts produces, so a full address can never be stored, whatever writes it.
 */
export class RequestOrigin1765100000000 implements MigrationInterface {
  name = 'RequestOrigin1765100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    const classes = USER_AGENT_CLASSES.map((c) => `'${c}'`).join(', ');
    await queryRunner.query(
      `ALTER TABLE ${s}.audit_event
         ADD COLUMN client_origin text CONSTRAINT audit_event_client_origin_shape
           CHECK (client_origin ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}0/24$|^[0-9a-f:]{2,39}/48$|^hmac:[A-Za-z0-9_-]{43}$'),
         ADD COLUMN user_agent_class text CONSTRAINT audit_event_user_agent_class_known CHECK (user_agent_class IN (${classes}))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.audit_event DROP COLUMN user_agent_class, DROP COLUMN client_origin`);
  }
}
