import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Every file that may read the environment (shared/config.ts says: the only code that reads process.env). */
function configFiles(): string[] {
  const services = readdirSync(join(root, 'subgraphs')).map((name) => `subgraphs/${name}/src/config.ts`);
  return ['shared/config.ts', 'gateway/src/config.ts', ...services];
}

/** Keys of the zod env models (`NAME: z…`) and templated per-region names (`PII_${upper}_…` → `PII_<REGION>_…`). */
function variablesIn(source: string): string[] {
  const keys = [...source.matchAll(/^\s+([A-Z][A-Z0-9]*_[A-Z0-9_]+)\s*:/gm)].map((m) => m[1]);
  const templated = [...source.matchAll(/`(PII_)\$\{upper\}(_[A-Z0-9_]+)`/g)].map((m) => `${m[1]}<REGION>${m[2]}`);
  return [...keys, ...templated];
}

describe('docs/configuration.md', () => {
  test('documents every environment variable a service reads', () => {
    const doc = read('docs/configuration.md');
    const variables = [...new Set(configFiles().flatMap((file) => variablesIn(read(file))))];
    expect(variables.length).toBeGreaterThan(40);
    const undocumented = variables.filter((name) => !doc.includes(name));
    expect(undocumented).toEqual([]);
  });
});
