/* Writes schema/supergraph.graphql from the subgraph SDLs (`npm run compose`). With --check, fails on drift. */
import { readFileSync, writeFileSync } from 'node:fs';
import { composeSupergraph, SUPERGRAPH_PATH } from '../gateway/src/supergraph';

const check = process.argv.includes('--check');
try {
  const supergraph = composeSupergraph();
  if (check) {
    const committed = readFileSync(SUPERGRAPH_PATH, 'utf8');
    if (committed !== supergraph) {
      console.error('schema/supergraph.graphql is out of date: run "npm run compose" and commit it');
      process.exit(1);
    }
    console.log('schema/supergraph.graphql is up to date');
  } else {
    writeFileSync(SUPERGRAPH_PATH, supergraph);
    console.log(`wrote ${SUPERGRAPH_PATH}`);
  }
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
