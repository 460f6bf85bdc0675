import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeServices } from '@apollo/composition';
import { lexicographicSortSchema, parse, printSchema } from 'graphql';
import { DEFAULT_PORTS, SERVICE_NAMES } from '../../shared/config';

export const SUPERGRAPH_PATH = join(__dirname, '..', '..', 'schema', 'supergraph.graphql');
/** The schema clients see (what codegen and the Sandbox use): no join directives, no @inaccessible fields. */
export const API_SCHEMA_PATH = join(__dirname, '..', '..', 'schema', 'api.graphql');

export function subgraphSdlPath(name: string): string {
  return join(__dirname, '..', '..', 'subgraphs', name, 'src', 'schema.graphql');
}

/**
 * Composes the four subgraph SDLs into the supergraph the gateway serves. The URLs written into
 * it are defaults only: the gateway routes to the URLs in its configuration.
 */
export interface ComposedGraph {
  supergraph: string;
  api: string;
}

export function composeSupergraph(): ComposedGraph {
  const result = composeServices(
    SERVICE_NAMES.map((name) => ({
      name,
      url: `http://127.0.0.1:${DEFAULT_PORTS[name]}/graphql`,
      typeDefs: parse(readFileSync(subgraphSdlPath(name), 'utf8')),
    })),
  );
  if (result.errors) {
    throw new Error(`Composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  const api = printSchema(lexicographicSortSchema(result.schema.toAPISchema().toGraphQLJSSchema()));
  return { supergraph: `${result.supergraphSdl.trim()}\n`, api: `${api.trim()}\n` };
}

export function loadSupergraph(): string {
  return readFileSync(SUPERGRAPH_PATH, 'utf8');
}
