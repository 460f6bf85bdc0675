import { DependencyUnavailableError, privgraphError } from '../../../shared/errors';
import { ConcurrentChange } from './db/repositories/region-repository';
import { KeyVersionRetiredError } from './services/key-provider';

/** Maps key-provider and store failures onto the graph's codes; anything else stays masked. */
export function toGraphqlError(error: unknown): unknown {
  if (error instanceof DependencyUnavailableError) {
    return privgraphError('DEPENDENCY_UNAVAILABLE', 'The key service is unavailable; no PII was released or written');
  }
  if (error instanceof KeyVersionRetiredError) {
    return privgraphError('KEY_VERSION_RETIRED', 'This data is wrapped under a retired key version; no PII was released');
  }
  if (error instanceof ConcurrentChange) {
    return privgraphError('CONFLICT', 'The profile changed while the operation ran; retry it');
  }
  return error;
}

/** Runs a resolver body, mapping failures through toGraphqlError. */
export async function mapErrors<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toGraphqlError(error);
  }
}
