import { EntitySchema } from 'typeorm';

/** A subject's data key (DEK), wrapped by a key-encryption key; never stored unwrapped. */
export interface SubjectKeyRow {
  subjectId: string;
  wrappedDek: Buffer;
  kekId: string;
  createdAt: Date;
}

/** One encrypted PII field: AES-256-GCM under the subject's DEK, bound to (subject, field) by AAD. */
export interface PiiFieldRow {
  subjectId: string;
  field: string;
  ciphertext: Buffer;
  updatedAt: Date;
}

export const SubjectKeyEntity = new EntitySchema<SubjectKeyRow>({
  name: 'SubjectKey',
  tableName: 'subject_key',
  columns: {
    subjectId: { type: 'uuid', primary: true, name: 'subject_id' },
    wrappedDek: { type: 'bytea', name: 'wrapped_dek' },
    kekId: { type: 'text', name: 'kek_id' },
    createdAt: { type: 'timestamptz', name: 'created_at' },
  },
});

export const PiiFieldEntity = new EntitySchema<PiiFieldRow>({
  name: 'PiiField',
  tableName: 'pii_field',
  columns: {
    subjectId: { type: 'uuid', primary: true, name: 'subject_id' },
    field: { type: 'text', primary: true },
    ciphertext: { type: 'bytea' },
    updatedAt: { type: 'timestamptz', name: 'updated_at' },
  },
});

export const entities = [SubjectKeyEntity, PiiFieldEntity];
