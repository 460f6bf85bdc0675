import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes generated files, or with `check` reports which committed ones differ from what would be
 * generated (exit code 1), telling the reader which command regenerates them.
 */
export function writeOrCheck(outputs: [path: string, content: string][], check: boolean, regenerate: string): void {
  let drift = false;
  for (const [path, content] of outputs) {
    if (check) {
      let committed: string | undefined;
      try {
        committed = readFileSync(path, 'utf8');
      } catch {
        committed = undefined;
      }
      if (committed !== content) {
        console.error(`${path} is out of date: run "${regenerate}" and commit it`);
        drift = true;
      }
    } else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      console.log(`wrote ${path}`);
    }
  }
  if (drift) process.exit(1);
  if (check) console.log('generated files are up to date');
}
