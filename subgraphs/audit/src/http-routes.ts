import { once } from 'node:events';
import type { Express, Request, Response } from 'express';
import { GraphQLError } from 'graphql';
import type { JWK } from 'jose';
import { createActionAuditor } from '../../../shared/audit/actions';
import type { AuditSink } from '../../../shared/audit/events';
import type { TokenVerifier } from '../../../shared/auth/verifier';
import { requestContext } from '../../../shared/context';
import type { ExtendedDirectory } from '../../../shared/directory-client';
import { httpHeadersOf, isErrorCode, unauthenticated } from '../../../shared/errors';
import type { Logger } from '../../../shared/logger';
import { JWKS_PATH } from '../../../shared/signing-key';
import type { AuditRepository } from './db/repositories/audit-repository';
import { exportLines, exportRequestFor } from './services/export';

export const EXPORT_PATH = '/export';

const STATUS: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, BAD_USER_INPUT: 400, AUDIT_UNAVAILABLE: 503, DEPENDENCY_UNAVAILABLE: 503 };

/** Errors in the graph's shape ({ errors: [{ message, extensions: { code, field } }] }), never a stack or SQL. */
function sendError(res: Response, error: unknown, logger: Logger) {
  const code = error instanceof GraphQLError ? error.extensions.code : undefined;
  if (error instanceof GraphQLError && isErrorCode(code)) {
    const field = error.extensions.field;
    for (const [name, value] of httpHeadersOf(error)) res.set(name, value);
    res.status(STATUS[code] ?? 400).json({ errors: [{ message: error.message, extensions: { code, ...(field ? { field } : {}) } }] });
    return;
  }
  logger.error({ err: { name: (error as Error)?.name } }, 'export failed');
  res.status(500).json({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
}

/**
 * The audit service's plain HTTP routes: its public signing key, and the streamed export
 * (`GET /export?format=jsonl|csv&since=…&until=…[&tenantId=…]`, tenant or platform-admin token).
 */
export function publicRoutes(deps: { verifier: TokenVerifier; directory: ExtendedDirectory; repo: AuditRepository; sink: AuditSink; publicJwk: JWK; now: () => Date; logger: Logger }) {
  return (app: Express) => {
    app.get(JWKS_PATH, (_req, res) => {
      res.set('cache-control', 'public, max-age=300').json({ keys: [deps.publicJwk] });
    });

    app.get(EXPORT_PATH, async (req: Request, res: Response) => {
      let request;
      try {
        const context = await requestContext(req, deps.verifier, deps.directory);
        if (context.principal.kind === 'anonymous') throw unauthenticated(undefined, { tokenPresented: false });
        request = exportRequestFor(context.principal, req.query as Record<string, unknown>);
        // The export itself is an admin action: recorded before anything is sent.
        await createActionAuditor(deps.sink, context, deps.now)('AUDIT_EXPORT', { tenantId: request.tenantId });
      } catch (error) {
        sendError(res, error, deps.logger);
        return;
      }
      const extension = request.format === 'csv' ? 'csv' : 'jsonl';
      res.status(200);
      res.type(request.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
      res.set('content-disposition', `attachment; filename="audit-${request.since.toISOString()}-${request.until.toISOString()}.${extension}"`);
      try {
        for await (const chunk of exportLines(deps.repo, deps.directory, request)) {
          if (!res.write(chunk)) await once(res, 'drain');
        }
        res.end();
      } catch (error) {
        // Headers are gone: cut the stream so the client sees an incomplete download, not a short "complete" one.
        deps.logger.error({ err: { name: (error as Error)?.name } }, 'export stream failed');
        res.destroy();
      }
    });
  };
}
