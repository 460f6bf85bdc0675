import type { DataSource } from 'typeorm';
import { qualifiedTable } from '../../../../../shared/db/data-source';
import { rethrowUniqueViolation } from '../../../../../shared/db/errors';
import type { PiiFieldRow, SubjectKeyRow } from '../entities';

export interface EncryptedRecord {
  subjectId: string;
  wrappedDek: Buffer;
  kekId: string;
  fields: Map<string, Buffer>;
}

export type VaultRepository = ReturnType<typeof createVaultRepository>;

export function createVaultRepository(dataSource: DataSource) {
  const keyTable = qualifiedTable(dataSource, 'subject_key');
  const fieldTable = qualifiedTable(dataSource, 'pii_field');

  return {
    /** Keys and ciphertexts of many subjects in one statement. */
    async findRecords(subjectIds: readonly string[]): Promise<Map<string, EncryptedRecord>> {
      const rows: { subjectId: string; wrappedDek: Buffer; kekId: string; field: string | null; ciphertext: Buffer | null }[] =
        await dataSource.query(
          `SELECT k.subject_id AS "subjectId", k.wrapped_dek AS "wrappedDek", k.kek_id AS "kekId", f.field, f.ciphertext
             FROM ${keyTable} k LEFT JOIN ${fieldTable} f ON f.subject_id = k.subject_id
            WHERE k.subject_id = ANY($1::uuid[])`,
          [subjectIds],
        );
      const records = new Map<string, EncryptedRecord>();
      for (const row of rows) {
        let record = records.get(row.subjectId);
        if (!record) {
          record = { subjectId: row.subjectId, wrappedDek: row.wrappedDek, kekId: row.kekId, fields: new Map() };
          records.set(row.subjectId, record);
        }
        if (row.field !== null && row.ciphertext !== null) record.fields.set(row.field, row.ciphertext);
      }
      return records;
    },

    /**
     * All changes of one profile update in one transaction: nothing is half-written. Throws
     * UniqueViolation when a concurrent first write created the subject's key meanwhile.
     */
    async saveProfile(change: { newKey: SubjectKeyRow | null; upserts: PiiFieldRow[]; deletes: { subjectId: string; fields: string[] } }) {
      await dataSource.transaction(async (manager) => {
        if (change.newKey) {
          await manager.query(
            `INSERT INTO ${keyTable} (subject_id, wrapped_dek, kek_id, created_at) VALUES ($1, $2, $3, $4)`,
            [change.newKey.subjectId, change.newKey.wrappedDek, change.newKey.kekId, change.newKey.createdAt],
          );
        }
        for (const row of change.upserts) {
          await manager.query(
            `INSERT INTO ${fieldTable} (subject_id, field, ciphertext, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (subject_id, field) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, updated_at = EXCLUDED.updated_at`,
            [row.subjectId, row.field, row.ciphertext, row.updatedAt],
          );
        }
        if (change.deletes.fields.length > 0) {
          await manager.query(`DELETE FROM ${fieldTable} WHERE subject_id = $1 AND field = ANY($2::text[])`, [
            change.deletes.subjectId,
            change.deletes.fields,
          ]);
        }
      }).catch(rethrowUniqueViolation);
    },
  };
}
