import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

/**
 * Headless Chromium for the browser tests: Debian's `chromium` package driven by playwright-core
 * (no downloaded browser). PRIVGRAPH_CHROMIUM names another binary. Without one the browser suites
 * skip with a message, unless PRIVGRAPH_BROWSER_TESTS=required (CI), where they fail.
 */
function findChromium(): string | null {
  const named = process.env.PRIVGRAPH_CHROMIUM;
  if (named) return existsSync(named) ? named : null; // an explicit choice wins, also when it names nothing
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (existsSync(candidate)) return candidate;
  try {
    const found = execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim();
    return found || null;
  } catch {
    return null;
  }
}

export const CHROMIUM = findChromium();
const REQUIRED = process.env.PRIVGRAPH_BROWSER_TESTS === 'required';

/**
 * `describe` for a suite that needs Chromium. Absent (and not required), the suite is skipped and
 * says why; required and absent, it fails.
 */
export function describeInBrowser(name: string, suite: () => void) {
  if (CHROMIUM) {
    describe(name, suite);
    return;
  }
  const why = 'Chromium not found (install Debian\'s "chromium" package or set PRIVGRAPH_CHROMIUM)';
  if (REQUIRED) {
    describe(name, () => {
      test('needs Chromium (PRIVGRAPH_BROWSER_TESTS=required)', () => {
        throw new Error(`${why}; PRIVGRAPH_BROWSER_TESTS=required`);
      });
    });
    return;
  }
  process.stderr.write(`skipping "${name}": ${why}\n`);
  describe.skip(`${name} [skipped: ${why}]`, suite);
}

/**
 * These flags keep a headless Chromium on a closed network quiet: no first-run, sync, component or
 * background fetches (each would be a refused connection, and for the sandbox test a foreign request).
 */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
];

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh headless Chromium with its own throwaway profile directory. */
export async function launchChromium(options: { viewport?: { width: number; height: number } } = {}): Promise<Chromium> {
  if (!CHROMIUM) throw new Error('Chromium not found');
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'privgraph-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    serviceWorkers: 'block',
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
