import {
  getNamedType,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

/** The fields that ask a subgraph for N entities: their list size is the number of representations. */
const ENTITIES_FIELD = '_entities';
const LIST_SIZE_ARGUMENTS = ['first', 'last'] as const;

/**
 * The cost of the operation that would run: every selected field costs 1 (aliases and `__typename` included, `@skip`/
 * `@include` ignored so the answer does not depend on them), and a field with a `first`/`last` argument multiplies what it
 * selects by that size — taken from the literal, the variable, the variable's default or the argument's schema default, in
 * that order. `_entities` multiplies by the number of representations. Fragments are costed once per spread (memoised,
 * cycles count 0: validation refuses them anyway). Without a matching `operationName` the most expensive operation counts.
 * The rate limiter charges requests with this number, so it must stay deterministic and cheap (linear in the document).
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
): number {
  const operations: OperationDefinitionNode[] = [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) operations.push(definition);
    else if (definition.kind === Kind.FRAGMENT_DEFINITION && !fragments.has(definition.name.value)) fragments.set(definition.name.value, definition);
  }
  const named = operationName ? operations.filter((operation) => operation.name?.value === operationName) : [];
  const counted = named.length > 0 ? named : operations;
  let highest = 0;
  for (const operation of counted) highest = Math.max(highest, new OperationCoster(schema, fragments, operation, variables ?? {}).cost());
  return highest;
}

class OperationCoster {
  private readonly fragmentCosts = new Map<string, number>();
  private readonly visiting = new Set<string>();
  private readonly variableDefaults = new Map<string, ValueNode>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: Map<string, FragmentDefinitionNode>,
    private readonly operation: OperationDefinitionNode,
    private readonly variables: Record<string, unknown>,
  ) {
    for (const definition of operation.variableDefinitions ?? []) {
      if (definition.defaultValue) this.variableDefaults.set(definition.variable.name.value, definition.defaultValue);
    }
  }

  cost(): number {
    const root =
      this.operation.operation === 'mutation'
        ? this.schema.getMutationType()
        : this.operation.operation === 'subscription'
          ? this.schema.getSubscriptionType()
          : this.schema.getQueryType();
    return this.selectionSetCost(this.operation.selectionSet, root ?? undefined);
  }

  private selectionSetCost(selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined): number {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) total += this.fieldCost(selection, parent);
      else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) ?? undefined : parent;
        total += this.selectionSetCost(selection.selectionSet, type);
      } else total += this.fragmentCost(selection.name.value);
    }
    return capped(total);
  }

  private fragmentCost(name: string): number {
    const known = this.fragmentCosts.get(name);
    if (known !== undefined) return known;
    const fragment = this.fragments.get(name);
    if (!fragment || this.visiting.has(name)) return 0;
    this.visiting.add(name);
    const cost = this.selectionSetCost(fragment.selectionSet, this.schema.getType(fragment.typeCondition.name.value) ?? undefined);
    this.visiting.delete(name);
    this.fragmentCosts.set(name, cost);
    return cost;
  }

  private fieldCost(field: FieldNode, parent: GraphQLNamedType | undefined): number {
    const definition = field.name.value.startsWith('__') ? undefined : fieldDefinition(parent, field.name.value);
    const size = this.listSize(field, definition);
    if (!field.selectionSet) return size;
    const type = definition ? getNamedType(definition.type) : undefined;
    return capped(1 + size * this.selectionSetCost(field.selectionSet, type && isCompositeType(type) ? type : undefined));
  }

  /** How many items the field may return, as far as its arguments say (1 when they say nothing). */
  private listSize(field: FieldNode, definition: GraphQLField<unknown, unknown> | undefined): number {
    if (field.name.value === ENTITIES_FIELD) {
      const representations = field.arguments?.find((argument) => argument.name.value === 'representations');
      const value = representations ? this.valueOf(representations.value) : undefined;
      return Array.isArray(value) ? Math.max(1, value.length) : 1;
    }
    let size = 1;
    for (const name of LIST_SIZE_ARGUMENTS) {
      const argument = field.arguments?.find((candidate) => candidate.name.value === name);
      let value = argument ? this.valueOf(argument.value) : undefined;
      if (!isCount(value)) value = definition?.args.find((candidate) => candidate.name === name)?.defaultValue;
      if (isCount(value)) size = Math.max(size, Math.floor(value));
    }
    return size;
  }

  /** A literal's or variable's value, enough to read a count or a list's length; undefined when absent or null. */
  private valueOf(node: ValueNode): unknown {
    switch (node.kind) {
      case Kind.INT:
        return Number.parseInt(node.value, 10);
      case Kind.FLOAT:
        return Number.parseFloat(node.value);
      case Kind.LIST:
        return node.values;
      case Kind.VARIABLE: {
        const name = node.name.value;
        const given = Object.prototype.hasOwnProperty.call(this.variables, name) ? this.variables[name] : undefined;
        if (given !== undefined && given !== null) return given;
        const fallback = this.variableDefaults.get(name);
        return fallback && fallback.kind !== Kind.VARIABLE ? this.valueOf(fallback) : undefined;
      }
      default:
        return undefined;
    }
  }
}

function fieldDefinition(parent: GraphQLNamedType | undefined, name: string): GraphQLField<unknown, unknown> | undefined {
  if (!parent || !(isObjectType(parent) || isInterfaceType(parent))) return undefined;
  return parent.getFields()[name] as GraphQLField<unknown, unknown> | undefined;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1;
}

function capped(cost: number): number {
  return Math.min(cost, Number.MAX_SAFE_INTEGER);
}
