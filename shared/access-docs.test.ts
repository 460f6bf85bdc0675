import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema } from 'graphql';

const root = join(__dirname, '..');

describe('docs/access.md', () => {
  test('names every query and mutation of the public API, so who may call it is written down', () => {
    const schema = buildSchema(readFileSync(join(root, 'schema/api.graphql'), 'utf8'));
    const doc = readFileSync(join(root, 'docs/access.md'), 'utf8');
    const fields = [schema.getQueryType(), schema.getMutationType()].flatMap((type) => Object.keys(type?.getFields() ?? {}));
    expect(fields.length).toBeGreaterThan(60);
    expect(fields.filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
  });
});
