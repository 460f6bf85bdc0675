import type { DataSource } from 'typeorm';
import { changedRows, qualifiedTable } from '../../../../../shared/db/data-source';
import { rethrowUniqueViolation } from '../../../../../shared/db/errors';
import type { DataKeyRow } from '../entities';

export type KeyStoreRepository = ReturnType<typeof createKeyStoreRepository>;

/** A region's key store: wrapped data keys only. */
export function createKeyStoreRepository(dataSource: DataSource) {
  const table = qualifiedTable(dataSource, 'data_key');
  const columns = `subject_id AS "subjectId", generation, wrapped, kek_version AS "kekVersion", created_at AS "createdAt"`;

  return {
    async findKeys(subjectIds: readonly string[]): Promise<Map<string, DataKeyRow[]>> {
      const bySubject = new Map<string, DataKeyRow[]>();
      if (subjectIds.length === 0) return bySubject;
      const rows: DataKeyRow[] = await dataSource.query(
        `SELECT ${columns} FROM ${table} WHERE subject_id = ANY($1::uuid[]) ORDER BY subject_id, generation`,
        [subjectIds],
      );
      for (const row of rows) {
        const list = bySubject.get(row.subjectId) ?? [];
        list.push(row);
        bySubject.set(row.subjectId, list);
      }
      return bySubject;
    },

    /** Throws UniqueViolation when a concurrent writer created the same generation first. */
    async insertKey(row: DataKeyRow): Promise<void> {
      await dataSource
        .query(`INSERT INTO ${table} (subject_id, generation, wrapped, kek_version, created_at) VALUES ($1, $2, $3, $4, $5)`, [
          row.subjectId,
          row.generation,
          row.wrapped,
          row.kekVersion,
          row.createdAt,
        ])
        .catch(rethrowUniqueViolation);
    },

    /** Destroys data keys: all of a subject's, or those below a generation (after a re-key). */
    async deleteKeys(subjectId: string, belowGeneration?: number): Promise<number> {
      const rows = await changedRows(
        dataSource,
        `DELETE FROM ${table} WHERE subject_id = $1 AND ($2::int IS NULL OR generation < $2) RETURNING generation`,
        [subjectId, belowGeneration ?? null],
      );
      return rows.length;
    },

    async countByVersion(): Promise<{ version: number; count: number }[]> {
      return dataSource.query(`SELECT kek_version AS version, count(*)::int AS count FROM ${table} GROUP BY kek_version ORDER BY kek_version`);
    },

    async countBelowVersion(version: number): Promise<number> {
      const [{ count }] = await dataSource.query(`SELECT count(*)::int AS count FROM ${table} WHERE kek_version < $1`, [version]);
      return count;
    },

    /** The next page of keys below a version, in key order after a cursor (resumable re-wrap). */
    async keysBelowVersion(version: number, after: { subjectId: string; generation: number } | null, limit: number): Promise<DataKeyRow[]> {
      return dataSource.query(
        `SELECT ${columns} FROM ${table}
          WHERE kek_version < $1 AND ($2::uuid IS NULL OR (subject_id, generation) > ($2::uuid, $3::int))
          ORDER BY subject_id, generation LIMIT $4`,
        [version, after?.subjectId ?? null, after?.generation ?? 0, limit],
      );
    },

    /** Swaps a wrapped key only if it is still the one that was re-wrapped (a concurrent shred or re-key wins). */
    async replaceWrapped(rows: { subjectId: string; generation: number; previous: string; wrapped: string; kekVersion: number }[]): Promise<number> {
      if (rows.length === 0) return 0;
      const updated = await changedRows(
        dataSource,
        `UPDATE ${table} k SET wrapped = v.wrapped, kek_version = v.kek_version
           FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::int[]) AS v(subject_id, generation, previous, wrapped, kek_version)
          WHERE k.subject_id = v.subject_id AND k.generation = v.generation AND k.wrapped = v.previous
          RETURNING k.subject_id`,
        [rows.map((r) => r.subjectId), rows.map((r) => r.generation), rows.map((r) => r.previous), rows.map((r) => r.wrapped), rows.map((r) => r.kekVersion)],
      );
      return updated.length;
    },
  };
}
