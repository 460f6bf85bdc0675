import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { isObjectType, parse } from 'graphql';
import { allow } from 'graphql-shield';
import { API_SCHEMA_PATH, composeSupergraph, loadSupergraph, subgraphSdlPath } from '../gateway/src/supergraph';
import { guardSchema, piiFieldsOf } from '../shared/permissions';
import { loadSdl } from '../shared/server/subgraph';
import { applyPermissions as piiPermissions } from '../subgraphs/pii/src/permissions';

const piiSdl = () => readFileSync(subgraphSdlPath('pii'), 'utf8');

describe('supergraph and the @pii directive', () => {
  test('schema/supergraph.graphql and schema/api.graphql are what the subgraph SDLs compose to (run `npm run compose`)', () => {
    const composed = composeSupergraph();
    expect(loadSupergraph()).toBe(composed.supergraph);
    expect(readFileSync(API_SCHEMA_PATH, 'utf8')).toBe(composed.api);
    expect(composed.api).not.toMatch(/@pii|join__/);
    const userType = /type User \{[^}]*\}/.exec(composed.api)?.[0];
    expect(userType).toContain('email: String');
    expect(userType).not.toMatch(/\bid: ID/);
  });

  test('every PII field is nullable and keeps its @pii category in the composed graph', () => {
    const schema = buildSubgraphSchema({ typeDefs: loadSdl(subgraphSdlPath('pii')) });
    const fields = piiFieldsOf(schema);
    expect(fields.map((f) => `${f.fieldName}:${f.category}`).sort()).toEqual([
      'address:ADDRESS',
      'birthDate:IDENTITY',
      'email:CONTACT',
      'familyName:IDENTITY',
      'givenName:IDENTITY',
      'nationalId:GOVERNMENT_ID',
      'phone:CONTACT',
    ]);
    const user = schema.getType('User');
    if (!isObjectType(user)) throw new Error('User missing');
    for (const field of fields) expect(user.getFields()[field.fieldName].type.toString()).not.toMatch(/!$/);
    expect(loadSupergraph()).toContain('email: String @join__field(graph: PII) @pii(category: CONTACT, mask: EMAIL)');
  });

  test('a subgraph field without a rule stops start-up', () => {
    const sdl = `${piiSdl()}\ntype Note { text: String }\nextend type Mutation { note: Note }`;
    expect(() => piiPermissions(buildSubgraphSchema({ typeDefs: parse(sdl) }))).toThrow(/No permission rule for: Mutation.note, Note.text/);
  });

  test('a @pii field cannot be given a hand-written rule, nor exist in a service without the PII rule', () => {
    const schema = buildSubgraphSchema({ typeDefs: loadSdl(subgraphSdlPath('pii')) });
    const rules = { Mutation: { updateMyProfile: allow }, User: { id: allow, email: allow }, Address: allow };
    expect(() => guardSchema(schema, rules, () => allow)).toThrow(/User.email is @pii/);
    expect(() => guardSchema(schema, { Mutation: allow, User: { id: allow }, Address: allow })).toThrow(/has no PII rule/);
  });
});
