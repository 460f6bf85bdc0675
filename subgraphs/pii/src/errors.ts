import { DependencyUnavailableError, privgraphError } from '../../../shared/errors';

/** Maps a failing key provider onto the graph's code; anything else stays masked. */
export function toGraphqlError(error: unknown): unknown {
  return error instanceof DependencyUnavailableError
    ? privgraphError('DEPENDENCY_UNAVAILABLE', 'The key service is unavailable; no PII was released')
    : error;
}
