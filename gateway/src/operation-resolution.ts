import type { ApolloServerPlugin } from '@apollo/server';
import { privgraphError } from '../../shared/errors';

/**
 * An operation name that matches no operation of the document (or none given for a document with
 * several) is the client's mistake: 400 OPERATION_RESOLUTION_FAILURE, as every subgraph answers.
 * Apollo Server leaves this case to the gateway's executor, which throws instead of returning the
 * error, so without this the answer is a masked 500. GraphiQL sends a stale name when a query is run
 * right after its operation was renamed.
 */
export const operationResolution: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (!operation) {
          throw privgraphError('OPERATION_RESOLUTION_FAILURE', 'The operation name does not match an operation in the document', { httpStatus: 400 });
        }
      },
    };
  },
};
