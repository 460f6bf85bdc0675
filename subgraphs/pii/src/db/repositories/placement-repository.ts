import type { DataSource } from 'typeorm';
import { changedRows, qualifiedTable } from '../../../../../shared/db/data-source';
import type { SubjectPlacementRow } from '../entities';

export type PlacementRepository = ReturnType<typeof createPlacementRepository>;

export function createPlacementRepository(dataSource: DataSource) {
  const table = qualifiedTable(dataSource, 'subject_placement');
  const columns = `subject_id AS "subjectId", region, placed_at AS "placedAt", moving_to AS "movingTo"`;

  return {
    async findPlacements(subjectIds: readonly string[]): Promise<Map<string, SubjectPlacementRow>> {
      if (subjectIds.length === 0) return new Map();
      const rows: SubjectPlacementRow[] = await dataSource.query(`SELECT ${columns} FROM ${table} WHERE subject_id = ANY($1::uuid[])`, [subjectIds]);
      return new Map(rows.map((row) => [row.subjectId, row]));
    },

    /** Places a subject unless already placed; returns the placement that holds and whether this call made it. */
    async placeSubject(subjectId: string, region: string, placedAt: Date): Promise<{ placement: SubjectPlacementRow; created: boolean }> {
      const inserted: SubjectPlacementRow[] = await dataSource.query(
        `INSERT INTO ${table} (subject_id, region, placed_at) VALUES ($1, $2, $3) ON CONFLICT (subject_id) DO NOTHING RETURNING ${columns}`,
        [subjectId, region, placedAt],
      );
      if (inserted.length > 0) return { placement: inserted[0], created: true };
      const [existing]: SubjectPlacementRow[] = await dataSource.query(`SELECT ${columns} FROM ${table} WHERE subject_id = $1`, [subjectId]);
      return { placement: existing, created: false };
    },

    async deletePlacement(subjectId: string): Promise<void> {
      await dataSource.query(`DELETE FROM ${table} WHERE subject_id = $1`, [subjectId]);
    },

    /** Marks a move as started; false when another move holds the subject. */
    async beginMove(subjectId: string, target: string): Promise<boolean> {
      const rows = await changedRows(
        dataSource,
        `UPDATE ${table} SET moving_to = $2 WHERE subject_id = $1 AND (moving_to IS NULL OR moving_to = $2) RETURNING subject_id`,
        [subjectId, target],
      );
      return rows.length > 0;
    },

    async completeMove(subjectId: string, target: string): Promise<void> {
      await dataSource.query(`UPDATE ${table} SET region = $2, moving_to = NULL WHERE subject_id = $1`, [subjectId, target]);
    },

    async abandonMove(subjectId: string): Promise<void> {
      await dataSource.query(`UPDATE ${table} SET moving_to = NULL WHERE subject_id = $1`, [subjectId]);
    },

    async countByRegion(): Promise<Map<string, number>> {
      const rows: { region: string; count: number }[] = await dataSource.query(`SELECT region, count(*)::int AS count FROM ${table} GROUP BY region`);
      return new Map(rows.map((row) => [row.region, row.count]));
    },
  };
}
