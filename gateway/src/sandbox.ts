import { accessSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Express, Request, Response } from 'express';

/**
 * The admin sandbox: GraphiQL served from the gateway's own files (npm packages resolved at start,
 * nothing from another host), so an offline or air-gapped install has a working GraphQL IDE.
 * The page, its script and its styles are in gateway/sandbox/; GraphiQL and React come from node_modules.
 */
export const SANDBOX_PATH = '/sandbox';

const SANDBOX_DIR = join(__dirname, '..', 'sandbox');
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

/** Every file the page loads, by the name it is served under (`/sandbox/assets/<name>`). */
function sandboxAssets(): Record<string, string> {
  return {
    'react.production.min.js': join(packageDir('react'), 'umd', 'react.production.min.js'),
    'react-dom.production.min.js': join(packageDir('react-dom'), 'umd', 'react-dom.production.min.js'),
    'graphiql.min.js': join(packageDir('graphiql'), 'graphiql.min.js'),
    'graphiql.min.css': join(packageDir('graphiql'), 'graphiql.min.css'),
    'sandbox.js': join(SANDBOX_DIR, 'sandbox.js'),
    'sandbox.css': join(SANDBOX_DIR, 'sandbox.css'),
    'favicon.svg': join(SANDBOX_DIR, 'favicon.svg'),
  };
}

/**
 * Only the gateway's own origin. GraphiQL's bundled fonts are data: URLs. `style-src 'unsafe-inline'`
 * stays off: React and CodeMirror set styles through the CSSOM, which CSP does not restrict.
 * `connect-src 'self'` keeps the token from being sent anywhere but this gateway.
 */
export const SANDBOX_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function secure(res: Response) {
  res.set({
    'content-security-policy': SANDBOX_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  });
}

/** A browser asking for a page (Accept prefers text/html over JSON), as Apollo decides for its landing page. */
function wantsHtml(req: Request): boolean {
  return req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';
}

/**
 * Mounts GET /sandbox, GET /sandbox/assets/<file> and the page at GET /graphql for browsers.
 * Disabled, nothing is mounted: /sandbox answers 404 and /graphql is the API alone.
 */
export function mountSandbox(app: Express, options: { enabled: boolean }) {
  if (!options.enabled) return;
  const html = readFileSync(join(SANDBOX_DIR, 'index.html'), 'utf8');
  const assets = sandboxAssets();
  for (const file of Object.values(assets)) accessSync(file); // fail at start, not on a click, when a file is missing

  const page = (req: Request, res: Response) => {
    // The page loads its files by relative URLs (so a proxy's path prefix works): no trailing slash.
    const trailing = /\/([^/]+)\/+$/.exec(req.path);
    if (trailing) {
      res.redirect(301, `../${trailing[1]}`);
      return;
    }
    secure(res);
    res.set('cache-control', 'no-store').type('html').send(html);
  };
  app.get(SANDBOX_PATH, page);
  app.get('/graphql', (req, res, next) => {
    // A GET with a query (or a JSON client) is a GraphQL request: leave it to the API.
    if (req.query.query !== undefined || !wantsHtml(req)) return next();
    page(req, res);
  });
  app.get(`${SANDBOX_PATH}/assets/:name`, (req, res) => {
    const file = Object.hasOwn(assets, req.params.name) ? assets[req.params.name] : undefined;
    if (!file) {
      res.status(404).type('text').send('Not found');
      return;
    }
    secure(res);
    res.set('cache-control', 'public, max-age=3600');
    res.sendFile(file);
  });
}
