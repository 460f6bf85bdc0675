import type { GraphQLSchema } from 'graphql';
import { rule } from 'graphql-shield';
import { allow, guardSchema, isSubject, type PiiField } from '../../../shared/permissions';
import type { PiiContext } from './context';

/** One rule per @pii field, derived from the directive: decide, audit, then release. */
const piiRule = (field: PiiField) =>
  rule(`pii:${field.typeName}.${field.fieldName}`, { cache: 'no_cache' })((parent: { id: string }, _args, ctx: PiiContext) =>
    ctx.guard.authorizeRead(parent.id, field),
  );

export function applyPermissions(schema: GraphQLSchema): GraphQLSchema {
  return guardSchema(
    schema,
    {
      Mutation: { updateMyProfile: isSubject },
      // The entity key: reachable only inside the graph (@inaccessible); the PII fields carry their own rules.
      User: { id: allow },
      Address: allow,
    },
    piiRule,
  );
}
