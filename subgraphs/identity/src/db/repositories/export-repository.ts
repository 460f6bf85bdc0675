import type { DataSource } from 'typeorm';
import { qualifiedTable } from '../../../../../shared/db/data-source';

export interface ExportDownloadRow {
  requestId: string;
  jti: string;
  subjectId: string;
  downloadedAt: Date;
}

export type ExportRepository = ReturnType<typeof createExportRepository>;

/** Downloads of data exports: at most one per request, each naming the link (jti) it used. */
export function createExportRepository(dataSource: DataSource) {
  const table = qualifiedTable(dataSource, 'data_export_download');
  const requestTable = qualifiedTable(dataSource, 'data_subject_request');
  const columns = 'request_id AS "requestId", jti, subject_id AS "subjectId", downloaded_at AS "downloadedAt"';
  return {
    async findDownload(requestId: string): Promise<ExportDownloadRow | null> {
      const rows: ExportDownloadRow[] = await dataSource.query(`SELECT ${columns} FROM ${table} WHERE request_id = $1`, [requestId]);
      return rows[0] ?? null;
    },

    /**
     * Marks the link used and records the download, on the download table and on the request itself
     * (`downloaded_at`), in one statement; false when the request was downloaded already (through this
     * link or another).
     */
    async insertDownload(row: ExportDownloadRow): Promise<boolean> {
      const inserted: { requestId: string }[] = await dataSource.query(
        `WITH used AS (
           INSERT INTO ${table} (request_id, jti, subject_id, downloaded_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING request_id
         ), marked AS (
           UPDATE ${requestTable} SET downloaded_at = $4 WHERE id IN (SELECT request_id FROM used) RETURNING id
         )
         SELECT request_id AS "requestId" FROM used`,
        [row.requestId, row.jti, row.subjectId, row.downloadedAt],
      );
      return inserted.length === 1;
    },

    /** Undoes a download that could not be audited, so the link stays usable (nothing was sent). */
    async deleteDownload(requestId: string, jti: string): Promise<void> {
      await dataSource.query(
        `WITH undone AS (
           DELETE FROM ${table} WHERE request_id = $1 AND jti = $2 RETURNING request_id
         ), unmarked AS (
           UPDATE ${requestTable} SET downloaded_at = NULL WHERE id IN (SELECT request_id FROM undone) RETURNING id
         )
         SELECT request_id FROM undone`,
        [requestId, jti],
      );
    },
  };
}
