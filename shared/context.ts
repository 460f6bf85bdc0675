import { resolvePrincipal, type Directory, type Principal } from './auth/principal';
import type { TokenVerifier } from './auth/verifier';
import { DependencyUnavailableError, privgraphError } from './errors';
import { purposeFrom, requestIdFrom } from './request';

/** What every service's per-request context carries. */
export interface ServiceContext {
  principal: Principal;
  requestId: string;
  purpose: string | null;
  purposeMalformed: boolean;
}

/** The part of every service's context that comes from the request itself: who asks, why, under which id. */
export async function requestContext(
  req: { header(name: string): string | undefined },
  verifier: TokenVerifier,
  directory: Directory,
): Promise<ServiceContext> {
  let principal: Principal;
  try {
    principal = await resolvePrincipal(req.header('authorization'), verifier, directory);
  } catch (error) {
    // Without the directory no caller can be identified: refuse the whole request, clearly and retryably.
    if (error instanceof DependencyUnavailableError) {
      throw privgraphError('DEPENDENCY_UNAVAILABLE', 'The identity directory is unavailable; try again shortly', { httpStatus: 503 });
    }
    throw error;
  }
  const { purpose, malformed } = purposeFrom(req);
  return { principal, requestId: requestIdFrom(req), purpose, purposeMalformed: malformed };
}
