import { EntitySchema } from 'typeorm';

/** One identity-provider hook event that was handled (see migration 1764400000000-idp-events). */
export interface IdpEventRow {
  /** SHA-256 (hex) of the event's identifying fields (shared/idp-events-client.ts `idpEventKey`). */
  eventKey: string;
  provider: 'logto';
  type: string;
  subjectId: string | null;
  outcome: string;
  /** When the IdP says the event happened (the payload's createdAt). */
  occurredAt: Date;
  handledAt: Date;
}

export const IdpEventEntity = new EntitySchema<IdpEventRow>({
  name: 'IdpEvent',
  tableName: 'idp_event',
  columns: {
    eventKey: { type: 'text', primary: true, name: 'event_key' },
    provider: { type: 'text' },
    type: { type: 'text' },
    subjectId: { type: 'uuid', name: 'subject_id', nullable: true },
    outcome: { type: 'text' },
    occurredAt: { type: 'timestamptz', name: 'occurred_at' },
    handledAt: { type: 'timestamptz', name: 'handled_at' },
  },
});
