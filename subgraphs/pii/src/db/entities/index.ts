import { EntitySchema } from 'typeorm';

/** Which region's store holds a subject's profile (control schema; no personal data). */
export interface SubjectPlacementRow {
  subjectId: string;
  region: string;
  placedAt: Date;
  /** Set while an admin move copies the profile to another region. */
  movingTo: string | null;
}

/** A background re-wrap of a region's data keys to the newest KEK version (control schema). */
export interface KeyRotationRow {
  id: string;
  region: string;
  keyId: string;
  targetVersion: number;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  total: number;
  done: number;
  failed: number;
  cursorSubject: string | null;
  cursorGeneration: number | null;
  errorCode: string | null;
  requestedBy: string;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  leaseOwner: string | null;
  leaseUntil: Date | null;
}

/** One encrypted PII field (region data store): AES-256-GCM under a generation of the subject's DEK. */
export interface PiiFieldRow {
  subjectId: string;
  field: string;
  keyGeneration: number;
  ciphertext: Buffer;
  updatedAt: Date;
}

/** A keyed HMAC of a normalised email or phone (region data store), for exact-match lookups. */
export interface BlindIndexRow {
  kind: 'email' | 'phone';
  digest: Buffer;
  subjectId: string;
}

/** A subject's data key, wrapped by the region's KEK (region key store); never stored unwrapped. */
export interface DataKeyRow {
  subjectId: string;
  generation: number;
  wrapped: string;
  kekVersion: number;
  createdAt: Date;
}

const uuid = (name: string, primary = false) => ({ type: 'uuid' as const, name, primary });
const timestamp = (name: string, nullable = false) => ({ type: 'timestamptz' as const, name, nullable });

export const SubjectPlacementEntity = new EntitySchema<SubjectPlacementRow>({
  name: 'SubjectPlacement',
  tableName: 'subject_placement',
  columns: {
    subjectId: uuid('subject_id', true),
    region: { type: 'text' },
    placedAt: timestamp('placed_at'),
    movingTo: { type: 'text', name: 'moving_to', nullable: true },
  },
});

export const KeyRotationEntity = new EntitySchema<KeyRotationRow>({
  name: 'KeyRotation',
  tableName: 'key_rotation',
  columns: {
    id: uuid('id', true),
    region: { type: 'text' },
    keyId: { type: 'text', name: 'key_id' },
    targetVersion: { type: 'int', name: 'target_version' },
    status: { type: 'text' },
    total: { type: 'int' },
    done: { type: 'int' },
    failed: { type: 'int' },
    cursorSubject: { type: 'uuid', name: 'cursor_subject', nullable: true },
    cursorGeneration: { type: 'int', name: 'cursor_generation', nullable: true },
    errorCode: { type: 'text', name: 'error_code', nullable: true },
    requestedBy: { type: 'text', name: 'requested_by' },
    startedAt: timestamp('started_at'),
    updatedAt: timestamp('updated_at'),
    finishedAt: timestamp('finished_at', true),
    leaseOwner: { type: 'text', name: 'lease_owner', nullable: true },
    leaseUntil: timestamp('lease_until', true),
  },
});

export const PiiFieldEntity = new EntitySchema<PiiFieldRow>({
  name: 'PiiField',
  tableName: 'pii_field',
  columns: {
    subjectId: uuid('subject_id', true),
    field: { type: 'text', primary: true },
    keyGeneration: { type: 'int', name: 'key_generation' },
    ciphertext: { type: 'bytea' },
    updatedAt: timestamp('updated_at'),
  },
});

export const BlindIndexEntity = new EntitySchema<BlindIndexRow>({
  name: 'BlindIndex',
  tableName: 'blind_index',
  columns: {
    kind: { type: 'text', primary: true },
    digest: { type: 'bytea', primary: true },
    subjectId: uuid('subject_id', true),
  },
});

export const DataKeyEntity = new EntitySchema<DataKeyRow>({
  name: 'DataKey',
  tableName: 'data_key',
  columns: {
    subjectId: uuid('subject_id', true),
    generation: { type: 'int', primary: true },
    wrapped: { type: 'text' },
    kekVersion: { type: 'int', name: 'kek_version' },
    createdAt: timestamp('created_at'),
  },
});

export const entities = [SubjectPlacementEntity, KeyRotationEntity];
export const regionEntities = [PiiFieldEntity, BlindIndexEntity];
export const keyStoreEntities = [DataKeyEntity];
