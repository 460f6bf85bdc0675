// Lint rules that keep the architecture from eroding (conventions.md): layers call only downward,
// services never import each other, shared code never imports a service, no console in service code.
const tseslint = require('typescript-eslint');

const SERVICES = ['identity', 'pii', 'consent', 'audit'];
const LAYERS = {
  resolvers: { regex: '^(typeorm|pg)$|/db/', message: 'Resolvers stay thin: call a service, never the database.' },
  services: { regex: '^(typeorm|pg|express)$|/resolvers/', message: 'Services hold business rules: use repositories, not the driver or the transport.' },
  db: { regex: '/(services|resolvers)/', message: 'Repositories do not call upward.' },
};

const restrict = (files, groups) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: groups.map(({ regex, message }) => ({ regex, message })) }] },
});

// One block per (service, layer): a later block would replace an earlier one's rule for the same file.
const serviceBlocks = SERVICES.flatMap((name) => {
  const others = {
    regex: `(^|/)(${SERVICES.filter((other) => other !== name).join('|')})/src(/|$)`,
    message: 'Services never import each other: talk over the internal API, share code through shared/.',
  };
  return [
    restrict([`subgraphs/${name}/**/*.ts`], [others]),
    ...Object.entries(LAYERS).map(([layer, rule]) => restrict([`subgraphs/${name}/src/${layer}/**/*.ts`], [others, rule])),
  ];
});

module.exports = tseslint.config(
  { ignores: ['node_modules/**', '.data/**', '**/__generated__/**', 'coverage/**', 'clients/*/dist/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['gateway/src/**/*.ts', 'subgraphs/*/src/**/*.ts', 'shared/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: { 'no-console': 'error' },
  },
  // The client package is installed on its own: no console, and nothing from the rest of the repository.
  {
    files: ['clients/typescript/src/**/*.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-imports': ['error', { patterns: [{ regex: '^\\.\\./\\.\\./|^graphql$', message: 'The client ships alone: import only its own files, jose and @graphql-typed-document-node/core.' }] }],
    },
  },
  restrict(['shared/**/*.ts'], [{ regex: '(^|/)(subgraphs|gateway)/', message: 'Shared code serves every service and imports none of them.' }]),
  restrict(['gateway/src/**/*.ts'], [{ regex: '(^|/)subgraphs/', message: 'The gateway knows subgraphs only by URL.' }]),
  // No block covers scripts/: its composition roots (scripts/stack.ts for npm start, the tests and the bench) import
  // every service on purpose, so they need no exemption; services, gateway and shared stay restricted above.
  ...serviceBlocks,
);
