/* Writes schema/supergraph.graphql and schema/api.graphql from the subgraph SDLs (`npm run compose`). With --check, fails on drift. */
import { API_SCHEMA_PATH, composeSupergraph, SUPERGRAPH_PATH } from '../gateway/src/supergraph';
import { writeOrCheck } from './generated-files';

try {
  const composed = composeSupergraph();
  writeOrCheck(
    [
      [SUPERGRAPH_PATH, composed.supergraph],
      [API_SCHEMA_PATH, composed.api],
    ],
    process.argv.includes('--check'),
    'npm run compose',
  );
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
