import { resolvePrincipal, type Directory, type Principal } from './auth/principal';
import type { TokenVerifier } from './auth/verifier';
import { deadlineExceeded, deadlineOf, isDeadlineError, type Deadline } from './deadline';
import { DependencyUnavailableError, privgraphError } from './errors';
import { requestOriginOf, type RequestOrigin } from './origin';
import { purposeFrom, requestIdFrom } from './request';

/** What every service's per-request context carries. */
export interface ServiceContext {
  principal: Principal;
  requestId: string;
  purpose: string | null;
  purposeMalformed: boolean;
  /** Where the request came from, as audit events record it (truncated address, user-agent class). */
  origin: RequestOrigin;
  /** When the request's work is abandoned (x-privgraph-deadline-ms, shared/deadline.ts); calls it makes pass on what is left. */
  deadline: Deadline;
}

/** The part of every service's context that comes from the request itself: who asks, why, under which id. */
export async function requestContext(
  req: { header(name: string): string | undefined },
  verifier: TokenVerifier,
  directory: Directory,
): Promise<ServiceContext> {
  const deadline = deadlineOf(req);
  let principal: Principal;
  try {
    principal = await resolvePrincipal(req.header('authorization'), verifier, directory, { deadline });
  } catch (error) {
    if (isDeadlineError(error)) throw deadlineExceeded({ httpStatus: 504 });
    // Without the directory no caller can be identified: refuse the whole request, clearly and retryably.
    if (error instanceof DependencyUnavailableError) {
      throw privgraphError('DEPENDENCY_UNAVAILABLE', 'The identity directory is unavailable; try again shortly', { httpStatus: 503 });
    }
    throw error;
  }
  // A request whose budget is spent before it could start runs nothing (504, docs/security.md#deadlines).
  if (deadline.expired()) throw deadlineExceeded({ httpStatus: 504 });
  const { purpose, malformed } = purposeFrom(req);
  return { principal, requestId: requestIdFrom(req), purpose, purposeMalformed: malformed, origin: requestOriginOf(req), deadline };
}
