import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, visit, type DocumentNode } from 'graphql';
import type { VerifiedToken } from '../../shared/auth/verifier';
import { privgraphError } from '../../shared/errors';
import { SCOPES } from '../../shared/pii';

/** `__typename` is no introspection of the schema: every client may ask for it. */
const SCHEMA_FIELDS = new Set(['__schema', '__type']);

/** True when any operation or fragment of the document reads the schema (`__schema`, `__type`). */
export function readsSchema(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.FIELD](node) {
      if (SCHEMA_FIELDS.has(node.name.value)) {
        found = true;
        return false;
      }
      return undefined;
    },
  });
  return found;
}

/**
 * Production introspection for platform admins only: a verified token with `platform:admin` and no
 * tenant claim (the principal rules of shared/auth/principal.ts). Anyone else gets FORBIDDEN before
 * anything runs. The gateway's schema is the public API schema; the subgraphs keep introspection off
 * in production, since theirs carry the federation internals.
 */
export function platformAdminIntrospection(): ApolloServerPlugin<{ verified: VerifiedToken | undefined }> {
  const refuse = () => privgraphError('FORBIDDEN', 'Introspection needs a platform admin token here', { httpStatus: 403 });
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, contextValue }) {
          if (!readsSchema(document)) return;
          // The context verified the token once; an invalid one never gets here.
          const { verified } = contextValue;
          if (!verified || verified.organizationId !== undefined || !verified.scopes.has(SCOPES.platformAdmin)) throw refuse();
        },
      };
    },
  };
}
