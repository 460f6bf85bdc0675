import type { DataSource } from 'typeorm';
import { changedRows, qualifiedTable } from '../../../../../shared/db/data-source';
import { rethrowAsDeadline, withinDeadline, type Deadline } from '../../../../../shared/deadline';
import type { BlindIndexRow } from '../entities';

export interface SealedField {
  field: string;
  keyGeneration: number;
  ciphertext: Buffer;
}

export interface FieldChange {
  subjectId: string;
  upserts: SealedField[];
  deletes: string[];
  updatedAt: Date;
  /** Blind-index entries to replace, by kind (null = remove the kind's entry). */
  index: Map<BlindIndexRow['kind'], Buffer | null>;
  /** The request's deadline: the transaction's statements and lock waits end by it (SET LOCAL). */
  deadline?: Deadline;
}

/** The record changed between reading and replacing it. */
export class ConcurrentChange extends Error {
  constructor() {
    super('the record changed concurrently');
    this.name = 'ConcurrentChange';
  }
}

export type RegionRepository = ReturnType<typeof createRegionRepository>;

/** A region's data store: ciphertexts and blind-index entries, never a key. */
export function createRegionRepository(dataSource: DataSource) {
  const fieldTable = qualifiedTable(dataSource, 'pii_field');
  const indexTable = qualifiedTable(dataSource, 'blind_index');

  const writeIndex = async (query: (sql: string, params: unknown[]) => Promise<unknown>, subjectId: string, index: FieldChange['index']) => {
    for (const [kind, digest] of index) {
      await query(`DELETE FROM ${indexTable} WHERE subject_id = $1 AND kind = $2`, [subjectId, kind]);
      if (digest) await query(`INSERT INTO ${indexTable} (kind, digest, subject_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [kind, digest, subjectId]);
    }
  };

  return {
    /** Ciphertexts of many subjects in one statement. */
    async findFields(subjectIds: readonly string[]): Promise<Map<string, Map<string, SealedField>>> {
      const bySubject = new Map<string, Map<string, SealedField>>();
      if (subjectIds.length === 0) return bySubject;
      const rows: (SealedField & { subjectId: string })[] = await dataSource.query(
        `SELECT subject_id AS "subjectId", field, key_generation AS "keyGeneration", ciphertext FROM ${fieldTable} WHERE subject_id = ANY($1::uuid[])`,
        [subjectIds],
      );
      for (const { subjectId, ...sealed } of rows) {
        let fields = bySubject.get(subjectId);
        if (!fields) bySubject.set(subjectId, (fields = new Map()));
        fields.set(sealed.field, sealed);
      }
      return bySubject;
    },

    /** All changes of one profile update, index entries included, in one transaction: nothing is half-written. */
    async saveFields(change: FieldChange): Promise<void> {
      await dataSource.transaction((manager) => withinDeadline(manager, change.deadline, async () => {
        const query = (sql: string, params: unknown[]) => manager.query(sql, params);
        for (const row of change.upserts) {
          await query(
            `INSERT INTO ${fieldTable} (subject_id, field, key_generation, ciphertext, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (subject_id, field) DO UPDATE SET key_generation = EXCLUDED.key_generation, ciphertext = EXCLUDED.ciphertext, updated_at = EXCLUDED.updated_at`,
            [change.subjectId, row.field, row.keyGeneration, row.ciphertext, change.updatedAt],
          );
        }
        if (change.deletes.length > 0) {
          await query(`DELETE FROM ${fieldTable} WHERE subject_id = $1 AND field = ANY($2::text[])`, [change.subjectId, change.deletes]);
        }
        await writeIndex(query, change.subjectId, change.index);
      })).catch(rethrowAsDeadline);
    },

    /**
     * Replaces a subject's whole record (re-key, move): every field re-sealed, index rewritten. The
     * rows are locked and compared with `expected` (what the caller re-sealed), so a profile update
     * that slipped in meanwhile is never overwritten: the call throws ConcurrentChange instead.
     */
    async replaceRecord(
      subjectId: string,
      expected: ReadonlyMap<string, SealedField>,
      fields: SealedField[],
      index: FieldChange['index'],
      updatedAt: Date,
    ): Promise<void> {
      await dataSource.transaction(async (manager) => {
        const query = (sql: string, params: unknown[]) => manager.query(sql, params);
        const current: { field: string; ciphertext: Buffer }[] = await query(
          `SELECT field, ciphertext FROM ${fieldTable} WHERE subject_id = $1 ORDER BY field FOR UPDATE`,
          [subjectId],
        );
        const unchanged = current.length === expected.size && current.every((row) => expected.get(row.field)?.ciphertext.equals(row.ciphertext));
        if (!unchanged) throw new ConcurrentChange();
        await query(`DELETE FROM ${fieldTable} WHERE subject_id = $1`, [subjectId]);
        for (const row of fields) {
          await query(`INSERT INTO ${fieldTable} (subject_id, field, key_generation, ciphertext, updated_at) VALUES ($1, $2, $3, $4, $5)`, [
            subjectId,
            row.field,
            row.keyGeneration,
            row.ciphertext,
            updatedAt,
          ]);
        }
        await writeIndex(query, subjectId, index);
      });
    },

    /** Which of these subjects still have a ciphertext or an index entry here (erasure replay). */
    async findSubjectsWithRows(subjectIds: readonly string[]): Promise<string[]> {
      if (subjectIds.length === 0) return [];
      const rows: { subjectId: string }[] = await dataSource.query(
        `SELECT subject_id AS "subjectId" FROM ${fieldTable} WHERE subject_id = ANY($1::uuid[])
         UNION SELECT subject_id FROM ${indexTable} WHERE subject_id = ANY($1::uuid[])`,
        [subjectIds],
      );
      return rows.map((row) => row.subjectId);
    },

    /** Removes every row of a subject (erasure after shredding, the old region after a move). */
    async deleteSubject(subjectId: string): Promise<{ fields: number; indexEntries: number }> {
      return dataSource.transaction(async (manager) => {
        const fields = await changedRows(manager, `DELETE FROM ${fieldTable} WHERE subject_id = $1 RETURNING field`, [subjectId]);
        const entries = await changedRows(manager, `DELETE FROM ${indexTable} WHERE subject_id = $1 RETURNING kind`, [subjectId]);
        return { fields: fields.length, indexEntries: entries.length };
      });
    },

    async findSubjectsByDigest(kind: BlindIndexRow['kind'], digest: Buffer): Promise<string[]> {
      const rows: { subjectId: string }[] = await dataSource.query(
        `SELECT subject_id AS "subjectId" FROM ${indexTable} WHERE kind = $1 AND digest = $2 ORDER BY subject_id LIMIT 100`,
        [kind, digest],
      );
      return rows.map((row) => row.subjectId);
    },
  };
}
