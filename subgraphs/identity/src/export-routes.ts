import type { Express, Request, Response } from 'express';
import { GraphQLError } from 'graphql';
import { createActionAuditor } from '../../../shared/audit/actions';
import type { AuditSink } from '../../../shared/audit/events';
import type { Directory } from '../../../shared/auth/principal';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import { requestContext } from '../../../shared/context';
import { forbidden, httpHeadersOf, isErrorCode, unauthenticated } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import { EXPORT_DOWNLOAD_PATH, type ExportDownloads } from './services/export-download';

const STATUS: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  EXPORT_ALREADY_DOWNLOADED: 410,
  EXPORT_LINK_EXPIRED: 410,
  AUDIT_UNAVAILABLE: 503,
  DEPENDENCY_UNAVAILABLE: 503,
};

/** Errors in the graph's shape ({ errors: [{ message, extensions: { code } }] }), never a stack, SQL or data. */
function sendError(res: Response, error: unknown, logger: Logger) {
  const code = error instanceof GraphQLError ? error.extensions.code : undefined;
  if (error instanceof GraphQLError && isErrorCode(code)) {
    for (const [name, value] of httpHeadersOf(error)) res.set(name, value);
    res.status(STATUS[code] ?? 400).json({ errors: [{ message: error.message, extensions: { code } }] });
    return;
  }
  const unavailable = (error as Error)?.name === 'DependencyUnavailableError';
  logger.error({ err: { name: (error as Error)?.name } }, 'export download failed');
  res
    .status(unavailable ? 503 : 500)
    .json({ errors: [{ message: unavailable ? 'A platform service is unavailable; try again shortly' : 'Internal server error', extensions: { code: unavailable ? 'DEPENDENCY_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR' } }] });
}

/**
 * `GET /privacy/export/:token`: the subject's data export, once. Needs the link and the subject's own
 * bearer token (no token: 401; another account's: 403). Audited (DATA_EXPORT_DOWNLOAD) before sending.
 */
export function exportDownloadRoutes(deps: { verifier: TokenVerifier; directory: Directory; downloads: ExportDownloads; audit: AuditSink; now: () => Date; logger: Logger }) {
  return (app: Express) => {
    app.get(`${EXPORT_DOWNLOAD_PATH}/:token`, async (req: Request, res: Response) => {
      res.set('cache-control', 'no-store');
      try {
        const context = await requestContext(req, deps.verifier, deps.directory);
        if (context.principal.kind === 'anonymous') throw unauthenticated(undefined, { tokenPresented: false });
        if (context.principal.kind !== 'subject') throw forbidden('Only the data subject may download their export');
        const token = String(req.params.token ?? '');
        const { requestId, document } = await deps.downloads.download(context.principal.subjectId, token, createActionAuditor(deps.audit, context, deps.now));
        res.status(200);
        res.type('application/json; charset=utf-8');
        res.set('content-disposition', `attachment; filename="privgraph-export-${requestId}.json"`);
        res.send(JSON.stringify(document, null, 2));
      } catch (error) {
        sendError(res, error, deps.logger);
      }
    });
  };
}
