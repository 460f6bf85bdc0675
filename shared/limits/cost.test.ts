import { buildSchema, parse } from 'graphql';
import { operationCost } from './cost';

const schema = buildSchema(`
  type Query {
    user(ref: ID!): User
    users(first: Int = 20, after: String): UserConnection!
    logs(last: Int): [String!]!
    node: Node
    _entities(representations: [String!]!): [Node]!
  }
  type Mutation { touch(first: Int = 5): [User!]! }
  interface Node { id: ID! }
  type UserConnection { edges: [UserEdge!]! }
  type UserEdge { node: User! }
  type User implements Node { id: ID! ref: ID! email: String friends(first: Int): [User!]! }
`);

const cost = (query: string, variables?: Record<string, unknown>, operationName?: string | null) =>
  operationCost(schema, parse(query), variables, operationName);

describe('operationCost', () => {
  it('counts every field, aliases and __typename included', () => {
    expect(cost('{ user(ref: "a") { ref } }')).toBe(2);
    expect(cost('{ user(ref: "a") { ref email __typename } }')).toBe(4);
    expect(cost('{ a: __typename b: __typename c: __typename }')).toBe(3);
    const aliases = Array.from({ length: 101 }, (_, i) => `a${i}: __typename`).join(' ');
    expect(cost(`{ ${aliases} }`)).toBe(101);
  });

  it('multiplies a page by its literal size', () => {
    // users: 1 + 100 × (edges: 1 + (node: 1 + 4 fields))
    expect(cost('{ users(first: 100) { edges { node { ref email id __typename } } } }')).toBe(1 + 100 * (1 + 1 + 4));
  });

  it('takes the size from variables exactly as from the literal', () => {
    const literal = cost('{ users(first: 100) { edges { node { ref } } } }');
    expect(cost('query($n: Int) { users(first: $n) { edges { node { ref } } } }', { n: 100 })).toBe(literal);
    expect(cost('query($n: Int = 100) { users(first: $n) { edges { node { ref } } } }', {})).toBe(literal);
    expect(cost('query($n: Int = 7) { users(first: $n) { edges { node { ref } } } }', { n: 100 })).toBe(literal);
  });

  it("falls back to the argument's schema default when the size is absent or null", () => {
    const byDefault = 1 + 20 * (1 + 1 + 1);
    expect(cost('{ users { edges { node { ref } } } }')).toBe(byDefault);
    expect(cost('query($n: Int) { users(first: $n) { edges { node { ref } } } }', {})).toBe(byDefault);
    expect(cost('query($n: Int) { users(first: $n) { edges { node { ref } } } }', { n: null })).toBe(byDefault);
    expect(cost('query($n: Int) { users(first: $n) { edges { node { ref } } } }', undefined)).toBe(byDefault);
    expect(cost('mutation { touch { ref } }')).toBe(1 + 5 * 1);
  });

  it('counts 30 aliased pages from variables as the literal form', () => {
    const pages = (arg: string) => Array.from({ length: 30 }, (_, i) => `p${i}: users(first: ${arg}) { edges { node { ref } } }`).join(' ');
    const literal = cost(`{ ${pages('100')} }`);
    expect(literal).toBe(30 * (1 + 100 * 3));
    expect(cost(`query($n: Int) { ${pages('$n')} }`, { n: 100 })).toBe(literal);
  });

  it('multiplies leaf lists and nested lists', () => {
    expect(cost('{ logs(last: 50) }')).toBe(50);
    expect(cost('{ user(ref: "a") { friends(first: 10) { friends(first: 10) { ref } } } }')).toBe(1 + (1 + 10 * (1 + 10 * 1)));
  });

  it('ignores sizes that are no count (zero, negative, strings) and uses the default instead', () => {
    const byDefault = cost('{ users { edges { node { ref } } } }');
    expect(cost('{ users(first: 0) { edges { node { ref } } } }')).toBe(byDefault);
    expect(cost('{ users(first: -5) { edges { node { ref } } } }')).toBe(byDefault);
    expect(cost('query($n: Int) { users(first: $n) { edges { node { ref } } } }', { n: '100' })).toBe(byDefault);
  });

  it('multiplies _entities by the number of representations, literal or variable', () => {
    const fifty = Array.from({ length: 50 }, () => 'x');
    expect(cost('query($r: [String!]!) { _entities(representations: $r) { ... on User { email ref } } }', { r: fifty })).toBe(1 + 50 * 2);
    expect(cost('{ _entities(representations: ["a", "b", "c"]) { __typename } }')).toBe(1 + 3);
    const forty = Array.from({ length: 40 }, (_, i) => `e${i}: _entities(representations: $r) { __typename }`).join(' ');
    expect(cost(`query($r: [String!]!) { ${forty} }`, { r: fifty })).toBe(40 * 51);
  });

  it('follows fragments and inline fragments with their type condition', () => {
    const query = `
      query { users(first: 10) { edges { node { ...U } } } node { ... on User { friends(first: 3) { ref } } } }
      fragment U on User { ref friends(first: 2) { ...V } }
      fragment V on User { email }
    `;
    // users: 1 + 10 × (edges 1 + (node 1 + U)), U = ref + friends(1 + 2 × email); node: 1 + friends(1 + 3 × ref)
    expect(cost(query)).toBe(1 + 10 * (1 + (1 + (1 + (1 + 2 * 1)))) + (1 + (1 + 3 * 1)));
  });

  it('guards against fragment cycles and stays linear when fragments fan out', () => {
    expect(cost('{ node { ...A } } fragment A on User { ref ...B } fragment B on User { email ...A }')).toBe(1 + 2);
    const depth = 40;
    const fragments = Array.from({ length: depth }, (_, i) => `fragment F${i} on User { ${i + 1 < depth ? `a: friends { ...F${i + 1} } b: friends { ...F${i + 1} }` : 'ref'} }`);
    // 2^40 paths through the document: memoised per fragment, so this returns at once with the full count
    const value = cost(`{ node { ...F0 } } ${fragments.join(' ')}`);
    expect(value).toBeGreaterThan(2 ** 40);
    expect(Number.isSafeInteger(value)).toBe(true);
  });

  it('costs the named operation, and the most expensive one when the name matches none', () => {
    const query = 'query Small { user(ref: "a") { ref } } query Big { users(first: 50) { edges { node { ref } } } }';
    expect(cost(query, undefined, 'Small')).toBe(2);
    expect(cost(query, undefined, 'Big')).toBe(1 + 50 * 3);
    expect(cost(query, undefined, null)).toBe(1 + 50 * 3);
    expect(cost(query, undefined, 'Other')).toBe(1 + 50 * 3);
  });

  it('counts fields the schema does not know (validation refuses them later) and is deterministic', () => {
    expect(cost('{ nope { a b(first: 4) { c } } }')).toBe(1 + 1 + (1 + 4 * 1));
    const query = '{ users(first: 33) { edges { node { ref email } } } }';
    expect(new Set(Array.from({ length: 5 }, () => cost(query))).size).toBe(1);
  });

  it('counts @skip and @include fields as selected', () => {
    expect(cost('query($s: Boolean!) { user(ref: "a") { ref @skip(if: $s) email @include(if: false) } }', { s: true })).toBe(3);
  });
});
