import type { DataSource } from 'typeorm';
import { changedRows, qualifiedTable } from '../../../../../shared/db/data-source';
import { rethrowUniqueViolation } from '../../../../../shared/db/errors';
import type { KeyRotationRow } from '../entities';

export type RotationRepository = ReturnType<typeof createRotationRepository>;

const COLUMNS = `id, region, key_id AS "keyId", target_version AS "targetVersion", status, total, done, failed,
  cursor_subject AS "cursorSubject", cursor_generation AS "cursorGeneration", error_code AS "errorCode",
  requested_by AS "requestedBy", started_at AS "startedAt", updated_at AS "updatedAt", finished_at AS "finishedAt",
  lease_owner AS "leaseOwner", lease_until AS "leaseUntil"`;

/** Key-rotation jobs: the row is the job, its progress and its lease (so several workers can run). */
export function createRotationRepository(dataSource: DataSource) {
  const table = qualifiedTable(dataSource, 'key_rotation');

  return {
    /** Throws UniqueViolation when the region already has a running rotation. */
    async insertRotation(row: Pick<KeyRotationRow, 'id' | 'region' | 'keyId' | 'targetVersion' | 'total' | 'requestedBy' | 'startedAt'>): Promise<KeyRotationRow> {
      const [created]: KeyRotationRow[] = await dataSource
        .query(
          `INSERT INTO ${table} (id, region, key_id, target_version, status, total, requested_by, started_at, updated_at)
           VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, $7, $7) RETURNING ${COLUMNS}`,
          [row.id, row.region, row.keyId, row.targetVersion, row.total, row.requestedBy, row.startedAt],
        )
        .catch(rethrowUniqueViolation);
      return created;
    },

    async findRotation(id: string): Promise<KeyRotationRow | undefined> {
      const [row]: KeyRotationRow[] = await dataSource.query(`SELECT ${COLUMNS} FROM ${table} WHERE id = $1`, [id]);
      return row;
    },

    async listRotations(region: string | null, limit: number): Promise<KeyRotationRow[]> {
      return dataSource.query(`SELECT ${COLUMNS} FROM ${table} WHERE ($1::text IS NULL OR region = $1) ORDER BY started_at DESC LIMIT $2`, [region, limit]);
    },

    async findRunning(region: string): Promise<KeyRotationRow | undefined> {
      const [row]: KeyRotationRow[] = await dataSource.query(`SELECT ${COLUMNS} FROM ${table} WHERE region = $1 AND status = 'RUNNING'`, [region]);
      return row;
    },

    /** Takes a running job whose lease is free or expired (a crashed worker's job is resumed this way). */
    async claimRotation(owner: string, now: Date, leaseUntil: Date): Promise<KeyRotationRow | undefined> {
      const [row] = await changedRows<KeyRotationRow>(
        dataSource,
        `UPDATE ${table} SET lease_owner = $1, lease_until = $3
          WHERE id = (SELECT id FROM ${table} WHERE status = 'RUNNING' AND (lease_until IS NULL OR lease_until < $2)
                       ORDER BY started_at LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING ${COLUMNS}`,
        [owner, now, leaseUntil],
      );
      return row;
    },

    /** Records a batch's progress while still holding the lease; false when the lease was lost. */
    async recordProgress(
      id: string,
      owner: string,
      progress: Pick<KeyRotationRow, 'done' | 'failed' | 'cursorSubject' | 'cursorGeneration' | 'updatedAt' | 'leaseUntil'> &
        Partial<Pick<KeyRotationRow, 'status' | 'finishedAt' | 'errorCode' | 'total'>>,
    ): Promise<boolean> {
      const rows = await changedRows(
        dataSource,
        `UPDATE ${table} SET done = $3, failed = $4, cursor_subject = $5, cursor_generation = $6, updated_at = $7, lease_until = $8,
                status = COALESCE($9, status), finished_at = COALESCE($10, finished_at), error_code = COALESCE($11, error_code),
                total = COALESCE($12, total), lease_owner = CASE WHEN $9::text IS NULL THEN lease_owner END
          WHERE id = $1 AND lease_owner = $2 AND status = 'RUNNING' RETURNING id`,
        [
          id,
          owner,
          progress.done,
          progress.failed,
          progress.cursorSubject,
          progress.cursorGeneration,
          progress.updatedAt,
          progress.leaseUntil,
          progress.status ?? null,
          progress.finishedAt ?? null,
          progress.errorCode ?? null,
          progress.total ?? null,
        ],
      );
      return rows.length > 0;
    },

    /** Gives a job back (worker stopping), so another worker can take it at once. */
    async releaseRotation(id: string, owner: string): Promise<void> {
      await dataSource.query(`UPDATE ${table} SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`, [id, owner]);
    },
  };
}
