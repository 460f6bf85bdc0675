import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ERROR_CODES } from '../shared/errors';
import { ERROR_CODES as CLIENT_ERROR_CODES } from '../clients/typescript/src/__generated__/error-codes';
import { PERSISTED_QUERY_HASHES } from '../clients/typescript/src/__generated__/persisted';
import * as clientOperations from '../clients/typescript/src/__generated__/operations';
import { documentText } from '../clients/typescript/src/document';

/** Generated code must compile on its own, as a consumer copying or installing it compiles it (strict, no lib check skipped). */
function diagnosticsOf(files: string[], options: ts.CompilerOptions): string[] {
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    types: [],
    ...options,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName}(${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1})` : '';
    return `${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

const ROOT = join(__dirname, '..');
const tsFilesIn = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, dir, f));

describe('generated operations compile alone', () => {
  test('schema/__generated__ under strict (no duplicate identifiers)', () => {
    const files = tsFilesIn('schema/__generated__');
    expect(files.length).toBeGreaterThan(0);
    expect(diagnosticsOf(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext })).toEqual([]);
  });

  test("the client package's generated code under strict, as ESM (nodenext)", () => {
    const files = tsFilesIn('clients/typescript/src/__generated__');
    expect(files.map((f) => f.split('/').pop()).sort()).toEqual(['error-codes.ts', 'operations.ts', 'persisted.ts']);
    expect(diagnosticsOf(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext })).toEqual([]);
  });

  test('the whole client package source under strict, with the DOM or Node types alone', () => {
    const index = join(ROOT, 'clients/typescript/src/index.ts');
    const nodenext = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noUnusedLocals: true };
    expect(diagnosticsOf([index], { ...nodenext, lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'] })).toEqual([]);
    expect(diagnosticsOf([index], { ...nodenext, types: ['node'] })).toEqual([]);
  });
});

describe('client artefacts match their sources', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'clients/typescript/persisted-operations.json'), 'utf8')) as {
    format: string;
    version: number;
    operations: { id: string; name: string; type: string; body: string }[];
  };

  test('the error-code union is the registry of shared/errors.ts', () => {
    expect(CLIENT_ERROR_CODES).toEqual(ERROR_CODES);
  });

  test('the manifest lists every curated operation with the SHA-256 of the exact text the client sends', () => {
    expect(manifest.format).toBe('apollo-persisted-query-manifest');
    expect(manifest.version).toBe(1);
    const documents = Object.entries(clientOperations).filter(
      ([name, value]) => name.endsWith('Document') && value instanceof clientOperations.TypedDocumentString && !value.__meta__?.fragmentName,
    );
    expect(manifest.operations).toHaveLength(documents.length);
    for (const [exportName, document] of documents) {
      const body = documentText(document as clientOperations.TypedDocumentString<unknown, unknown>);
      const entry = manifest.operations.find((op) => `${op.name}Document` === exportName);
      expect(entry).toEqual({
        id: createHash('sha256').update(body).digest('hex'),
        name: exportName.replace(/Document$/, ''),
        type: body.startsWith('mutation') ? 'mutation' : 'query',
        body,
      });
    }
    expect([...PERSISTED_QUERY_HASHES].sort()).toEqual(manifest.operations.map((op) => op.id).sort());
  });

  test('no curated read by ref selects more than one PII category', () => {
    const categories: Record<string, string> = {
      email: 'CONTACT', phone: 'CONTACT', givenName: 'IDENTITY', familyName: 'IDENTITY', birthDate: 'IDENTITY', address: 'ADDRESS', nationalId: 'GOVERNMENT_ID',
    };
    for (const op of manifest.operations) {
      const fields = op.body.match(/\b\w+\b/g) ?? [];
      const used = new Set(fields.filter((f) => f in categories).map((f) => categories[f]));
      expect({ name: op.name, categories: used.size <= 1 }).toEqual({ name: op.name, categories: true });
    }
  });

  test("the package README shows its examples exactly as shipped in examples/ (CI compiles and runs those)", () => {
    const readme = readFileSync(join(ROOT, 'clients/typescript/README.md'), 'utf8');
    for (const name of ['read-email', 'verify-passport']) {
      const block = readme.match(new RegExp(`<!-- example:${name}:start -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n<!-- example:${name}:end -->`));
      expect(block?.[1]).toBe(readFileSync(join(ROOT, `clients/typescript/examples/${name}.ts`), 'utf8'));
    }
    const example = readFileSync(join(ROOT, 'clients/typescript/examples/read-email.ts'), 'utf8');
    expect(example.trimEnd().split('\n').length).toBeLessThanOrEqual(20);
  });
});
