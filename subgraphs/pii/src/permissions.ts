import type { GraphQLSchema } from 'graphql';
import { rule } from 'graphql-shield';
import { forbidden } from '../../../shared/errors';
import { allow, guardSchema, isAuthenticated, isPlatformAdmin, isSubject, type PiiField } from '../../../shared/permissions';
import type { PiiContext } from './context';
import { toGraphqlError } from './errors';
import { breakGlassOf } from './services/break-glass';

/**
 * One rule per @pii field, derived from the directive: decide, load the record, audit, then release. A parent made by
 * breakGlassUser carries its grant; any other parent (an entity reference, a profile) carries none. The record is
 * loaded (one query for the request) before the audit, so an ALLOW is never recorded for a value that could not be read.
 */
const piiRule = (field: PiiField) =>
  rule(`pii:${field.typeName}.${field.fieldName}`, { cache: 'no_cache' })((parent: { id: string }, _args, ctx: PiiContext) =>
    ctx.guard.authorizeRead(parent.id, field, breakGlassOf(parent), () =>
      // Key-provider failures keep their codes (KEY_VERSION_RETIRED, DEPENDENCY_UNAVAILABLE), as in the field's resolver.
      ctx.records.load(parent.id).catch((error: unknown) => {
        throw toGraphqlError(error);
      }),
    ),
  );

/** A user's region (not PII): the user, a tenant the user is connected to, a platform admin. */
const canSeeRegion = rule('pii:User.region', { cache: 'no_cache' })(async (parent: { id: string }, _args, ctx: PiiContext) => {
  const { principal } = ctx;
  if (principal.kind === 'platform_admin') return true;
  if (principal.kind === 'subject' && principal.subjectId === parent.id) return true;
  if (principal.kind === 'tenant' && (await ctx.linkedToTenant.load(parent.id))) return true;
  return forbidden('Only the user, a connected tenant or a platform admin may see where this data is stored');
});

export function applyPermissions(schema: GraphQLSchema): GraphQLSchema {
  return guardSchema(
    schema,
    {
      Query: {
        piiRegions: isPlatformAdmin,
        keyRotation: isPlatformAdmin,
        keyRotations: isPlatformAdmin,
        subjectsByEmail: isPlatformAdmin,
        subjectsByPhone: isPlatformAdmin,
        breakGlassUser: isPlatformAdmin,
      },
      Mutation: {
        updateMyProfile: isSubject,
        rotateRegionKey: isPlatformAdmin,
        retireKeyVersions: isPlatformAdmin,
        rekeySubject: isPlatformAdmin,
        shredSubject: isPlatformAdmin,
        moveSubjectRegion: isPlatformAdmin,
      },
      // The entity key: reachable only inside the graph (@inaccessible); the PII fields carry their own rules.
      User: { id: allow, region: canSeeRegion },
      Address: allow,
      // Admin result types: reachable only through the admin fields above.
      PiiRegion: isAuthenticated,
      DataKeyVersionCount: isAuthenticated,
      KeyRotation: isAuthenticated,
      SubjectMatch: isAuthenticated,
      ShredResult: isAuthenticated,
      RekeyResult: isAuthenticated,
    },
    piiRule,
  );
}
