import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLFormattedError,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValueNode,
} from 'graphql';
import type { GraphqlLimits } from '../config';
import { privgraphError } from '../errors';
import { operationCost } from './cost';

/**
 * The request limits every privgraph service applies itself (a subgraph port is reachable directly when the network
 * allows it). Static ones are validation rules (run once per document; Apollo caches validated documents); the cost
 * and the `_entities` count depend on variables, so they are checked for every request once the operation is known.
 * Counting follows fragments (each spread counts its fragment again) and counts `__typename` like any field.
 */
export function limitValidationRules(limits: GraphqlLimits) {
  return [
    documentRule((document) => {
      const worst = perOperation(document, countAliases);
      return worst > limits.maxAliases ? `The operation has ${worst} aliases; the limit is ${limits.maxAliases}` : undefined;
    }),
    documentRule((document) => {
      const worst = perOperation(document, countDirectives);
      return worst > limits.maxDirectives ? `The operation has ${worst} directives; the limit is ${limits.maxDirectives}` : undefined;
    }),
    documentRule((document) => {
      const worst = perOperation(document, selectionDepth);
      return worst > limits.maxDepth ? `The operation is ${worst} levels deep; the limit is ${limits.maxDepth}` : undefined;
    }),
    documentRule((document) => {
      const worst = mostRepeated(document);
      return worst > limits.maxFieldRepeats
        ? `A field or fragment is selected ${worst} times in one selection set; the limit is ${limits.maxFieldRepeats}`
        : undefined;
    }),
  ];
}

/** Cost (variables included, `operationCost`) and `_entities` representations, per request. */
export function limitsPlugin<TContext extends BaseContext>(limits: GraphqlLimits): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, operationName }) {
          const cost = operationCost(schema, document, request.variables, operationName ?? request.operationName);
          if (cost > limits.maxCost) throw refused(`The operation costs ${cost}; the limit is ${limits.maxCost}`);
          const entities = entityCount(document, request.variables);
          if (entities > limits.maxEntities) throw refused(`The request asks for ${entities} entities; the limit is ${limits.maxEntities}`);
        },
      };
    },
  };
}

const refused = (message: string) => privgraphError('GRAPHQL_VALIDATION_FAILED', message, { httpStatus: 400 });

/** graphql-js's own `maxTokens` parse option aborts with this message ("that" sic); a size limit, not a syntax error. */
const TOKEN_LIMIT_MESSAGE = /^Syntax Error: Document contains more th(?:at|an) (\d+) tokens/;

/**
 * The last step of every service's `formatError`: the parser's token limit becomes a 400 GRAPHQL_VALIDATION_FAILED
 * (Apollo answers 400 for every parse failure; only the code changes), and in production no message suggests a name.
 */
export function formatLimitErrors(formatted: GraphQLFormattedError, production: boolean): GraphQLFormattedError {
  let { message } = formatted;
  let extensions = formatted.extensions;
  const tokens = extensions?.code === 'GRAPHQL_PARSE_FAILED' ? TOKEN_LIMIT_MESSAGE.exec(message) : null;
  if (tokens) {
    message = `The document has more than ${tokens[1]} tokens, the limit`;
    extensions = { ...extensions, code: 'GRAPHQL_VALIDATION_FAILED' };
  }
  if (production) message = withoutSuggestions(message);
  return message === formatted.message && extensions === formatted.extensions ? formatted : { ...formatted, message, extensions };
}

/**
 * graphql-js appends "Did you mean …?" to unknown fields, arguments, types and enum values (validation and variable
 * coercion alike). In production that maps the schema for anyone who guesses, introspection off or not: cut it.
 */
export function withoutSuggestions(message: string): string {
  const at = message.indexOf(' Did you mean ');
  return at === -1 ? message : message.slice(0, at);
}

function documentRule(check: (document: DocumentNode) => string | undefined) {
  return (context: ValidationContext): ASTVisitor => ({
    Document(node) {
      const problem = check(node);
      if (problem) context.reportError(new GraphQLError(problem));
      return false;
    },
  });
}

type Counter = (selectionSet: SelectionSetNode, fragment: (name: string) => number) => number;

/** The highest count over the document's operations, each spread counting its fragment (memoised, cycles count 0). */
function perOperation(document: DocumentNode, counter: Counter): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION && !fragments.has(definition.name.value)) fragments.set(definition.name.value, definition);
  }
  const known = new Map<string, number>();
  const visiting = new Set<string>();
  const fragment = (name: string): number => {
    const cached = known.get(name);
    if (cached !== undefined) return cached;
    const definition = fragments.get(name);
    if (!definition || visiting.has(name)) return 0;
    visiting.add(name);
    const count = counter(definition.selectionSet, fragment);
    visiting.delete(name);
    known.set(name, count);
    return count;
  };
  let worst = 0;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) worst = Math.max(worst, counter(definition.selectionSet, fragment) + ownCount(definition, counter));
  }
  return worst;
}

/** Directives on the operation itself (and its variables) count too. */
function ownCount(operation: OperationDefinitionNode, counter: Counter): number {
  if (counter !== countDirectives) return 0;
  return (operation.directives?.length ?? 0) + (operation.variableDefinitions ?? []).reduce((sum, v) => sum + (v.directives?.length ?? 0), 0);
}

const countAliases: Counter = (selectionSet, fragment) => {
  let total = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FRAGMENT_SPREAD) total += fragment(selection.name.value);
    else {
      if (selection.kind === Kind.FIELD && selection.alias) total += 1;
      if (selection.selectionSet) total += countAliases(selection.selectionSet, fragment);
    }
  }
  return total;
};

const countDirectives: Counter = (selectionSet, fragment) => {
  let total = 0;
  for (const selection of selectionSet.selections) {
    total += selection.directives?.length ?? 0;
    if (selection.kind === Kind.FRAGMENT_SPREAD) total += fragment(selection.name.value);
    else if (selection.selectionSet) total += countDirectives(selection.selectionSet, fragment);
  }
  return total;
};

/** Depth in fields; introspection (`__schema`, `__type`) is bounded by the schema itself and not counted. */
const selectionDepth: Counter = (selectionSet, fragment) => {
  let deepest = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FRAGMENT_SPREAD) deepest = Math.max(deepest, fragment(selection.name.value));
    else if (selection.kind === Kind.INLINE_FRAGMENT) deepest = Math.max(deepest, selectionDepth(selection.selectionSet, fragment));
    else if (selection.name.value !== '__schema' && selection.name.value !== '__type') {
      deepest = Math.max(deepest, 1 + (selection.selectionSet ? selectionDepth(selection.selectionSet, fragment) : 0));
    }
  }
  return deepest;
};

/** The most times one response key or one fragment spread appears directly in a selection set of the document. */
function mostRepeated(document: DocumentNode): number {
  let worst = 0;
  const walk = (selectionSet: SelectionSetNode) => {
    const seen = new Map<string, number>();
    for (const selection of selectionSet.selections) {
      const key =
        selection.kind === Kind.FIELD
          ? `field:${(selection.alias ?? selection.name).value}`
          : selection.kind === Kind.FRAGMENT_SPREAD
            ? `spread:${selection.name.value}`
            : undefined;
      if (key) {
        const count = (seen.get(key) ?? 0) + 1;
        seen.set(key, count);
        worst = Math.max(worst, count);
      }
      if (selection.kind !== Kind.FRAGMENT_SPREAD && selection.selectionSet) walk(selection.selectionSet);
    }
  };
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION || definition.kind === Kind.FRAGMENT_DEFINITION) walk(definition.selectionSet);
  }
  return worst;
}

/** Representations asked for by the `_entities` fields of the operation, literal or from variables, per spread. */
export function entityCount(document: DocumentNode, variables: Record<string, unknown> | undefined): number {
  const length = (value: ValueNode): number => {
    if (value.kind === Kind.LIST) return value.values.length;
    if (value.kind !== Kind.VARIABLE) return 0;
    const given = variables?.[value.name.value];
    return Array.isArray(given) ? given.length : 0;
  };
  const count: Counter = (selectionSet, fragment) => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) total += fragment(selection.name.value);
      else {
        if (selection.kind === Kind.FIELD && selection.name.value === '_entities') {
          const argument = selection.arguments?.find((candidate) => candidate.name.value === 'representations');
          if (argument) total += length(argument.value);
        }
        if (selection.selectionSet) total += count(selection.selectionSet, fragment);
      }
    }
    return total;
  };
  return perOperation(document, count);
}
