/* Writes schema/supergraph.graphql and schema/api.graphql from the subgraph SDLs (`npm run compose`). With --check, fails on drift. */
import { readFileSync, writeFileSync } from 'node:fs';
import { API_SCHEMA_PATH, composeSupergraph, SUPERGRAPH_PATH } from '../gateway/src/supergraph';

const check = process.argv.includes('--check');
try {
  const composed = composeSupergraph();
  const outputs: [string, string][] = [
    [SUPERGRAPH_PATH, composed.supergraph],
    [API_SCHEMA_PATH, composed.api],
  ];
  for (const [path, content] of outputs) {
    if (check) {
      let committed = '';
      try {
        committed = readFileSync(path, 'utf8');
      } catch {
        /* missing counts as drift */
      }
      if (committed !== content) {
        console.error(`${path} is out of date: run "npm run compose" and commit it`);
        process.exit(1);
      }
    } else {
      writeFileSync(path, content);
      console.log(`wrote ${path}`);
    }
  }
  if (check) console.log('composed schemas are up to date');
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
