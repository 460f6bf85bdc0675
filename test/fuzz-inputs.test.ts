import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import {
  buildSchema,
  getNamedType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  isCompositeType,
  parse,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import type { ServiceName } from '../shared/config';
import { startTestStack, type GqlResponse, type TestStack } from './kit/stack';
import { codes, createSubject, createTenant, PROFILE, type Subject } from './kit/scenario';

/**
 * Bad input never becomes a 500. Every argument and input field of the public schema (and of each subgraph's own
 * schema, for a direct call) is sent hostile values as every kind of principal; no answer may be an internal error,
 * carry a stack trace or quote SQL. The cases are generated from the SDL, so a new field is fuzzed without a new test.
 */

const NUL = 'a\u0000b';
const LONG = 'x'.repeat(100_000);

function hostileLeaves(type: GraphQLInputType): unknown[] {
  const named = getNamedType(type);
  if (named instanceof GraphQLEnumType) return ['NOT_A_VALUE', 7];
  if (named instanceof GraphQLInputObjectType) return ['not an object'];
  switch (named.name) {
    case 'Int':
      return [-1, 2147483647, 1e308, 'abc'];
    case 'SafeInt':
      return [-1, 2 ** 63, 1e308, '9223372036854775808', 'abc'];
    case 'Boolean':
      return ['yes'];
    case 'Date':
    case 'DateTime':
      return ['0000-00-00', '+275760-09-13T00:00:00.000Z', NUL, 1e308];
    default:
      return [
        NUL,
        LONG,
        'zzz',
        '',
        randomUUID(),
        '9223372036854775808',
        "' OR 1=1 --",
        Buffer.from('seq:9999999999999999999').toString('base64url'),
        Buffer.from('seq:-1').toString('base64url'),
        12345,
      ];
  }
}

interface Ctx {
  tenantId: string;
  ref: string;
}

function baseValue(type: GraphQLInputType, name: string, ctx: Ctx, depth = 0): unknown {
  if (type instanceof GraphQLNonNull) return baseValue(type.ofType, name, ctx, depth);
  if (type instanceof GraphQLList) return [baseValue(type.ofType, name, ctx, depth)];
  if (type instanceof GraphQLEnumType) return type.getValues()[0].value;
  if (type instanceof GraphQLInputObjectType) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      if (field.type instanceof GraphQLNonNull && field.defaultValue === undefined && depth < 4) {
        value[field.name] = baseValue(field.type, field.name, ctx, depth + 1);
      }
    }
    return value;
  }
  const scalar = type as GraphQLScalarType;
  switch (scalar.name) {
    case 'Int':
    case 'SafeInt':
      return 1;
    case 'Boolean':
      return false;
    case 'Date':
      return '2026-01-01';
    case 'DateTime':
      return '2026-01-01T00:00:00.000Z';
    case 'ID':
      if (/tenant/i.test(name)) return ctx.tenantId;
      if (/ref/i.test(name)) return ctx.ref;
      return randomUUID();
    default:
      return /country/i.test(name) ? 'DE' : /region/i.test(name) ? 'eu' : /reason/i.test(name) ? 'fuzzing the inputs' : 'fuzz';
  }
}

/** Every leaf of an argument's input tree, as a path and the type there (input objects walked to a small depth). */
function leaves(type: GraphQLInputType, path: string[] = [], depth = 0): { path: string[]; type: GraphQLInputType }[] {
  const out: { path: string[]; type: GraphQLInputType }[] = [{ path, type }];
  const named = getNamedType(type);
  if (named instanceof GraphQLInputObjectType && depth < 3) {
    for (const field of Object.values(named.getFields())) out.push(...leaves(field.type, [...path, field.name], depth + 1));
  }
  return out;
}

function setAt(root: unknown, path: string[], value: unknown, type: GraphQLInputType): unknown {
  if (path.length === 0) return value;
  const copy: Record<string, unknown> = Array.isArray(root) ? { ...(root[0] as object) } : { ...(root as object) };
  const [head, ...rest] = path;
  copy[head] = setAt(copy[head] ?? {}, rest, value, type);
  return unwrapList(type) ? [copy] : copy;
}

function unwrapList(type: GraphQLInputType): boolean {
  const inner = type instanceof GraphQLNonNull ? type.ofType : type;
  return inner instanceof GraphQLList;
}

interface Case {
  field: string;
  /** The field with plausible arguments only; the others change one leaf to a hostile value. */
  base: boolean;
  label: string;
  query: string;
  variables: Record<string, unknown>;
}

function casesFor(schema: GraphQLSchema, ctx: Ctx, options: { sample?: boolean } = {}): Case[] {
  const cases: Case[] = [];
  for (const [kind, root] of [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
  ] as const) {
    if (!root) continue;
    for (const field of Object.values(root.getFields()) as GraphQLField<unknown, unknown>[]) {
      if (field.name === '_service' || field.name === '_entities') continue;
      const selection = isCompositeType(getNamedType(field.type)) ? ' { __typename }' : '';
      const declare = field.args.map((arg, i) => `$v${i}: ${String(arg.type)}`).join(', ');
      const pass = field.args.map((arg, i) => `${arg.name}: $v${i}`).join(', ');
      const query = `${kind}${declare ? `(${declare})` : ''} { ${field.name}${pass ? `(${pass})` : ''}${selection} }`;
      const base = (args: readonly GraphQLArgument[]) => Object.fromEntries(args.map((arg, i) => [`v${i}`, baseValue(arg.type, arg.name, ctx)]));
      cases.push({ field: field.name, base: true, label: `${field.name}()`, query, variables: base(field.args) });
      field.args.forEach((arg, i) => {
        for (const leaf of leaves(arg.type)) {
          const values = hostileLeaves(leaf.type);
          for (const value of options.sample ? values.slice(0, 3) : values) {
            const variables = base(field.args);
            variables[`v${i}`] = setAt(variables[`v${i}`], leaf.path, value, arg.type);
            cases.push({ field: field.name, base: false, label: `${field.name}(${[arg.name, ...leaf.path].join('.')}=${show(value)})`, query, variables });
          }
        }
      });
    }
  }
  return cases;
}

const show = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value.length > 30 ? `${value.slice(0, 10)}…(${value.length})` : value) : String(value));

/** What a 500 looks like to a client, whatever the status: an internal error, a stack trace, or SQL. */
function problems(label: string, response: GqlResponse): string[] {
  const found: string[] = [];
  if (response.status >= 500) found.push(`${label}: HTTP ${response.status}`);
  const text = JSON.stringify(response.errors ?? []);
  if (codes(response).includes('INTERNAL_SERVER_ERROR')) found.push(`${label}: INTERNAL_SERVER_ERROR`);
  if (/\bat .+\.(ts|js):\d+/.test(text) || /"stacktrace"/.test(text)) found.push(`${label}: stack trace`);
  if (/\bSELECT\b|\bINSERT INTO\b|\brelation "|syntax error at or near|invalid input syntax|violates .* constraint/i.test(text)) {
    found.push(`${label}: SQL text ${text.slice(0, 200)}`);
  }
  return found;
}

const REFUSED = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'SCOPE_REQUIRED']);

async function run(stack: TestStack, cases: Case[], token: string | undefined, service?: ServiceName): Promise<string[]> {
  const found: string[] = [];
  // A field this principal may not call at all is refused before its arguments are read: a sample of its cases suffices.
  const refused = new Set<string>();
  for (const item of cases.filter((c) => c.base)) {
    const response = await stack.gql(item.query, item.variables, { token, service, purpose: 'order_fulfillment' });
    found.push(...problems(`${service ?? 'gateway'} ${item.label}`, response));
    if (codes(response).some((code) => REFUSED.has(code))) refused.add(item.field);
  }
  cases = cases.filter((item, index) => !item.base && (!refused.has(item.field) || index % 6 === 0));
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const item = cases[next++];
      const response = await stack.gql(item.query, item.variables, { token, service, purpose: 'order_fulfillment' });
      found.push(...problems(`${service ?? 'gateway'} ${item.label}`, response));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return found;
}

describe('hostile input on every argument', () => {
  let stack: TestStack;
  let shop: string;
  let alice: Subject;
  let principals: Record<string, string | undefined>;

  beforeAll(async () => {
    // The fuzzing is thousands of requests from a handful of principals: a rate limit would answer most of them.
    stack = await startTestStack();
    shop = await createTenant(stack, 'Fuzz Shop');
    alice = await createSubject(stack, 'fuzz-alice', PROFILE, [shop]);
    principals = {
      anonymous: undefined,
      subject: alice.token,
      tenant: await stack.tokens.tenant(shop, ['pii:contact:read', 'pii:contact:write', 'pii:address:read']),
      'tenant admin': await stack.tokens.tenant(shop, ['tenant:admin']),
      'platform admin': await stack.tokens.admin(),
    };
  });
  afterAll(() => stack?.stop());

  const fieldOf = (response: GqlResponse) => response.errors?.map((e) => `${String(e.extensions?.code)} ${String(e.extensions?.field)}`);

  it('a NUL byte in a ref, a tenant name, a region or an audit filter is refused as bad input (or names nothing)', async () => {
    const tenant = principals.tenant;
    const admin = principals['platform admin'];
    const user = await stack.gql('query($r: ID!) { user(ref: $r) { ref } }', { r: `${alice.refs[shop]}\u0000` }, { token: tenant });
    expect(codes(user)).toEqual(['NOT_FOUND']);
    const unblock = await stack.gql('mutation($r: ID!) { unblockUser(ref: $r) { ref } }', { r: NUL }, { token: principals['tenant admin'] });
    expect(codes(unblock)).toEqual(['NOT_FOUND']);
    const created = await stack.gql('mutation($n: String!) { createTenant(input: { name: $n }) { id } }', { n: NUL }, { token: admin });
    expect(fieldOf(created)).toEqual(['BAD_USER_INPUT input.name']);
    const rotations = await stack.gql('query($r: String) { keyRotations(region: $r) { id } }', { r: NUL }, { token: admin });
    expect(fieldOf(rotations)).toEqual(['BAD_USER_INPUT region']);
    for (const key of ['field', 'purpose', 'requestId', 'memberId']) {
      const events = await stack.gql('query($f: AuditFilter) { auditEvents(filter: $f) { edges { cursor } } }', { f: { [key]: NUL } }, { token: admin });
      expect(fieldOf(events)).toEqual([`BAD_USER_INPUT filter.${key}`]);
    }
  });

  it('a key rotation id that is not an id, an overflowing audit cursor and a 5,000-character subjectRef are bad input', async () => {
    const admin = principals['platform admin'];
    const rotation = await stack.gql('{ keyRotation(id: "zzz") { id } }', {}, { token: admin });
    expect(fieldOf(rotation)).toEqual(['BAD_USER_INPUT id']);
    const unknown = await stack.gql('query($id: ID!) { keyRotation(id: $id) { id } }', { id: randomUUID() }, { token: admin });
    expect(unknown.errors).toBeUndefined();
    const cursor = Buffer.from('seq:9999999999999999999').toString('base64url');
    const page = await stack.gql('query($a: String) { auditEvents(after: $a) { edges { cursor } } }', { a: cursor }, { token: admin });
    expect(fieldOf(page)).toEqual(['BAD_USER_INPUT after']);
    const largest = Buffer.from('seq:9223372036854775807').toString('base64url');
    expect((await stack.gql('query($a: String) { auditEvents(after: $a) { edges { cursor } } }', { a: largest }, { token: admin })).errors).toBeUndefined();
    const long = await stack.gql(
      'query($f: AuditFilter) { auditEvents(filter: $f) { edges { cursor } } }',
      { f: { subjectRef: 'x'.repeat(5000) } },
      { token: principals['tenant admin'] },
    );
    expect(fieldOf(long)).toEqual(['BAD_USER_INPUT filter.subjectRef']);
  });

  it('_entities with a type a subgraph does not own is bad input on every subgraph port that has entities', async () => {
    for (const service of ['identity', 'pii', 'consent'] as const) {
      const response = await stack.gql(
        'query($r: [_Any!]!) { _entities(representations: $r) { __typename } }',
        { r: [{ __typename: 'NoSuchType', id: randomUUID() }] },
        { token: principals['platform admin'], service },
      );
      expect({ service, errors: fieldOf(response) }).toEqual({ service, errors: ['BAD_USER_INPUT representations.0.__typename'] });
    }
  });

  it('the gateway answers every root field and argument without an internal error, a stack or SQL, for every principal', async () => {
    const api = buildSchema(readFileSync(join(__dirname, '..', 'schema', 'api.graphql'), 'utf8'));
    const cases = casesFor(api, { tenantId: shop, ref: alice.refs[shop] });
    expect(cases.length).toBeGreaterThan(500);
    // A huge list size makes a request cost more than a principal's whole rate-limit budget: those cases run last,
    // so that the budget they spend does not turn the rest into 429s.
    const costly = (item: Case) => /:\s*(1e\+308|2147483647|9223372036854776000)\b/.test(JSON.stringify(item.variables));
    const found: string[] = [];
    for (const pass of [cases.filter((item) => !costly(item)), cases.filter((item) => item.base || costly(item))]) {
      for (const [name, token] of Object.entries(principals)) {
        found.push(...(await run(stack, pass, token)).map((problem) => `${name}: ${problem}`));
      }
    }
    expect([...new Set(found)]).toEqual([]);
  }, 180_000);

  it('each subgraph port, called directly, answers a sample of hostile input without an internal error', async () => {
    const found: string[] = [];
    for (const service of ['identity', 'pii', 'consent', 'audit'] as const) {
      const sdl = readFileSync(join(__dirname, '..', 'subgraphs', service, 'src', 'schema.graphql'), 'utf8');
      const schema = buildSubgraphSchema({ typeDefs: parse(sdl) });
      const cases = casesFor(schema, { tenantId: shop, ref: alice.refs[shop] }, { sample: true });
      for (const name of ['tenant admin', 'platform admin']) {
        found.push(...(await run(stack, cases, principals[name], service)).map((problem) => `${name}: ${problem}`));
      }
    }
    expect([...new Set(found)]).toEqual([]);
  });
});
