import { getDirective } from '@graphql-tools/utils';
import { isObjectType, isUnionType, type GraphQLField, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { allow, deny, rule, shield, type IRules } from 'graphql-shield';
import { mayReadTenantAudit, type Principal } from './auth/principal';
import { badInput, forbidden, privgraphError } from './errors';
import type { ServiceContext } from './context';
import { isPiiCategory, isPiiMask, type PiiCategory, type PiiMask } from './pii';

/** A shield rule (plain or logic); the library does not export the union from its entry point. */
export type ShieldRule = Extract<IRules, { resolve: unknown } | { getRules: unknown }>;
type FieldRules = Record<string, ShieldRule>;
export type RuleTree = Record<string, ShieldRule | FieldRules>;

export interface PiiField {
  typeName: string;
  fieldName: string;
  category: PiiCategory;
  /** How the value is shown under the category's masked scope; absent = no masked view. */
  mask?: PiiMask;
}

/**
 * `_entities` answers only representations of this service's own entity types: @apollo/subgraph throws a plain
 * error for any other `__typename`, which would be masked as an internal error although the caller sent it.
 */
const knownEntities = rule({ cache: 'no_cache' })((_parent, args: { representations?: unknown }, _ctx, info) => {
  const entity = info.schema.getType('_Entity');
  const names = new Set(isUnionType(entity) ? entity.getTypes().map((type) => type.name) : []);
  const representations = Array.isArray(args.representations) ? args.representations : [];
  for (const [index, representation] of representations.entries()) {
    const typename = (representation as { __typename?: unknown } | null)?.__typename;
    if (typeof typename !== 'string' || !names.has(typename)) {
      return badInput(`representations.${index}.__typename`, 'The representation names no entity type of this service');
    }
  }
  return true;
});

/** Federation's own entry points; entities behind `_entities` are guarded by their field rules. */
const FEDERATION_RULES: RuleTree = { Query: { _service: allow, _entities: knownEntities }, _Service: allow };

/** The `@pii(category:, mask:)` directive of a field, if any. */
export function piiDirectiveOf(schema: GraphQLSchema, field: GraphQLField<unknown, unknown>): Omit<PiiField, 'typeName' | 'fieldName'> | undefined {
  const [directive] = getDirective(schema, field, 'pii') ?? [];
  if (!directive) return undefined;
  const { category, mask } = directive;
  if (!isPiiCategory(category)) throw new Error(`@pii on ${field.name} has an unknown category`);
  if (mask !== undefined && mask !== null && !isPiiMask(mask)) throw new Error(`@pii on ${field.name} has an unknown mask`);
  return mask ? { category, mask } : { category };
}

/** Every field marked `@pii` in the schema, the single source of truth for PII. */
export function piiFieldsOf(schema: GraphQLSchema): PiiField[] {
  const fields: PiiField[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const pii = piiDirectiveOf(schema, field);
      if (pii) fields.push({ typeName: type.name, fieldName: field.name, ...pii });
    }
  }
  return fields;
}

function isRule(value: unknown): value is ShieldRule {
  const candidate = value as { resolve?: unknown; getRules?: unknown } | undefined;
  return typeof candidate?.resolve === 'function' || typeof candidate?.getRules === 'function';
}

/**
 * Applies a graphql-shield rule tree that covers every field of the schema explicitly, with
 * `@pii` fields taking the rule built by `piiRule`. A field without a rule, or a PII field with a
 * hand-written one, stops start-up. Anything the tree does not name is denied (fail closed).
 */
export function guardSchema(
  schema: GraphQLSchema,
  rules: RuleTree,
  piiRule?: (field: PiiField) => ShieldRule,
): GraphQLSchema {
  const tree: Record<string, FieldRules> = {};
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const given = rules[type.name] ?? FEDERATION_RULES[type.name];
    const fieldRules: FieldRules = {};
    for (const field of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${field.name}`;
      const pii = piiDirectiveOf(schema, field);
      const explicit = isRule(given)
        ? given
        : (given?.[field.name] ?? (FEDERATION_RULES[type.name] as FieldRules | undefined)?.[field.name]);
      if (pii) {
        if (explicit && !isRule(given)) throw new Error(`${coordinate} is @pii: its rule is derived, do not write one`);
        if (!piiRule) throw new Error(`${coordinate} is @pii but this service has no PII rule`);
        fieldRules[field.name] = piiRule({ typeName: type.name, fieldName: field.name, ...pii });
      } else if (explicit) {
        fieldRules[field.name] = explicit;
      } else {
        missing.push(coordinate);
      }
    }
    tree[type.name] = fieldRules;
  }
  if (missing.length > 0) throw new Error(`No permission rule for: ${missing.join(', ')}`);
  return applyMiddleware(
    schema,
    shield(tree, {
      fallbackRule: deny,
      fallbackError: () => forbidden(),
      allowExternalErrors: true,
      debug: false,
    }),
  );
}

/* Rules on the principal, shared by all services. Plain predicates first, so they can be reused outside shield. */

type Ctx = ServiceContext;

function requireKind(ctx: Ctx, kinds: Principal['kind'][]): true | Error {
  if (ctx.principal.kind === 'anonymous') return privgraphError('UNAUTHENTICATED', 'A valid access token is required');
  return kinds.includes(ctx.principal.kind) ? true : forbidden();
}

export const isAuthenticated = rule({ cache: 'contextual' })((_p, _a, ctx: Ctx) =>
  requireKind(ctx, ['subject', 'tenant', 'platform_admin']),
);
export const isSubject = rule({ cache: 'contextual' })((_p, _a, ctx: Ctx) => requireKind(ctx, ['subject']));
export const isTenant = rule({ cache: 'contextual' })((_p, _a, ctx: Ctx) => requireKind(ctx, ['tenant']));
export const isPlatformAdmin = rule({ cache: 'contextual' })((_p, _a, ctx: Ctx) => requireKind(ctx, ['platform_admin']));
/** A tenant token carrying the tenant:admin scope. */
export const isTenantAdmin = rule({ cache: 'contextual' })((_p, _a, ctx: Ctx) => {
  const kind = requireKind(ctx, ['tenant']);
  if (kind !== true) return kind;
  return ctx.principal.kind === 'tenant' && ctx.principal.isTenantAdmin ? true : privgraphError('SCOPE_REQUIRED', 'This operation needs the tenant:admin scope');
});
/**
 * The shop's audit log: its backend, its tenant admins (staff included) and platform admins. A staff
 * member without tenant:admin does not see what colleagues read: the log names them and the refs they
 * touched, which is more than a support role needs.
 */
export const canReadTenantAudit = rule({ cache: 'contextual' })((_p, _a, ctx: Ctx) => {
  const kind = requireKind(ctx, ['tenant', 'platform_admin']);
  if (kind !== true || ctx.principal.kind !== 'tenant') return kind;
  return mayReadTenantAudit(ctx.principal) ? true : privgraphError('SCOPE_REQUIRED', "A staff member reads the shop's audit log only with the tenant:admin scope");
});

export { allow };
