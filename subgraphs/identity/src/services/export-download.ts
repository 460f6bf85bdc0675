import { createHash, randomUUID } from 'node:crypto';
import type { ActionAuditor } from '../../../../shared/audit/actions';
import { isUuid } from '../../../../shared/db/data-source';
import { notFound, privgraphError } from '../../../../shared/errors';
import { openDocument, signDocument, type SigningKey } from '../../../../shared/signing-key';
import type { ExportRepository } from '../db/repositories/export-repository';
import type { ExportDocument, ExportService } from './export-service';

/** JWS `typ` of a download link, so no other signed document (receipt, checkpoint) passes for one. */
export const EXPORT_LINK_TYPE = 'privgraph-export-link+jwt';
/** A link is short-lived: ten minutes. */
export const EXPORT_LINK_TTL_SECONDS = 600;
/** Public download route: `GET /privacy/export/<link token>`, on identity and through the gateway. */
export const EXPORT_DOWNLOAD_PATH = '/privacy/export';

/** The part of a data subject request the download needs (the rights repository's `findRequest`). */
export interface ExportRequestRow {
  id: string;
  subjectId: string;
  kind: string;
  status: string;
  completedAt: Date | null;
}

export interface ExportRequestLookup {
  findRequest(id: string): Promise<ExportRequestRow | null>;
}

interface LinkClaims {
  /** The data subject request. */
  rid: string;
  /** A hash of the subject's internal id: binds the link to one subject without naming them. */
  sub: string;
  jti: string;
  iat: number;
  exp: number;
}

export type ExportDownloads = ReturnType<typeof createExportDownloads>;

const subjectHash = (subjectId: string) => createHash('sha256').update(`privgraph-export-link/1:${subjectId}`).digest('base64url');

const alreadyDownloaded = () => privgraphError('EXPORT_ALREADY_DOWNLOADED', 'This export was downloaded already; request a new export to get your data again');

/**
 * Delivery of a finished export (GDPR Art. 15(3), 20): a signed link valid for ten minutes, usable
 * once, and only together with the subject's own access token. The document is assembled at
 * download time, so no decrypted copy of anyone's data is ever stored.
 */
export function createExportDownloads(deps: {
  requests: ExportRequestLookup;
  repo: ExportRepository;
  /** Named so as not to shadow CommonJS `exports` in the compiled module. */
  exportService: ExportService;
  key: SigningKey;
  now: () => Date;
  /** The public base URL of the gateway (links are absolute); null: links are paths on the gateway. */
  baseUrl: string | null;
}) {
  const { requests, repo, exportService, key, now } = deps;

  /** The subject's own finished export request, or NOT_FOUND (someone else's looks the same as none). */
  async function ownCompletedExport(subjectId: string, requestId: string): Promise<ExportRequestRow> {
    const request = isUuid(requestId) ? await requests.findRequest(requestId) : null;
    if (!request || request.subjectId !== subjectId || request.kind !== 'EXPORT' || request.status !== 'COMPLETED') {
      throw notFound('Completed data export request');
    }
    return request;
  }

  return {
    /** A download link for the subject's own completed export request. */
    async link(subjectId: string, requestId: string): Promise<{ url: string; expiresAt: Date }> {
      const request = await ownCompletedExport(subjectId, requestId);
      if (await repo.findDownload(request.id)) throw alreadyDownloaded();
      const issuedAt = Math.floor(now().getTime() / 1000);
      const claims: LinkClaims = { rid: request.id, sub: subjectHash(subjectId), jti: randomUUID(), iat: issuedAt, exp: issuedAt + EXPORT_LINK_TTL_SECONDS };
      const token = await signDocument(key, EXPORT_LINK_TYPE, claims);
      const path = `${EXPORT_DOWNLOAD_PATH}/${token}`;
      return { url: deps.baseUrl ? `${deps.baseUrl.replace(/\/+$/, '')}${path}` : path, expiresAt: new Date(claims.exp * 1000) };
    },

    /**
     * Verifies the link for this subject, assembles the document, marks the link used (recording the
     * download), and audits DATA_EXPORT_DOWNLOAD, all before a byte is sent. A download that cannot be
     * audited is undone, so the link stays usable.
     */
    async download(subjectId: string, token: string, audit: ActionAuditor): Promise<{ requestId: string; document: ExportDocument }> {
      const claims = (await openDocument(key.publicJwk, EXPORT_LINK_TYPE, token)) as LinkClaims | null;
      if (!claims || typeof claims.rid !== 'string' || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') {
        throw notFound('Export link');
      }
      if (claims.exp * 1000 <= now().getTime()) {
        throw privgraphError('EXPORT_LINK_EXPIRED', 'This download link has expired; ask for a new one (dataExportLink)');
      }
      if (claims.sub !== subjectHash(subjectId)) throw privgraphError('FORBIDDEN', 'This download link belongs to another account');
      const request = await ownCompletedExport(subjectId, claims.rid);
      if (await repo.findDownload(request.id)) throw alreadyDownloaded();
      const document = await exportService.buildExport(subjectId, { requestId: request.id });
      if (!(await repo.insertDownload({ requestId: request.id, jti: claims.jti, subjectId, downloadedAt: now() }))) throw alreadyDownloaded();
      try {
        await audit('DATA_EXPORT_DOWNLOAD', { subjectId, tenantId: null, field: 'DataSubjectRequest.EXPORT' });
      } catch (error) {
        await repo.deleteDownload(request.id, claims.jti);
        throw error;
      }
      return { requestId: request.id, document };
    },
  };
}
