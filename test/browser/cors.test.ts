import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { describeInBrowser, launchChromium, type Chromium } from '../kit/browser';
import { createSubject, createTenant, expectNoErrors, PROFILE } from '../kit/scenario';
import { startTestStack, type TestStack } from '../kit/stack';

/**
 * A frontend on another origin, in a real browser: pages served from their own ports (each port is
 * its own origin) call the gateway with fetch, exactly as a shop's single-page app would. The browser,
 * not the test, decides from the gateway's CORS answers whether the page may read the response.
 */
interface PageServer {
  origin: string;
  close(): Promise<void>;
}

async function startPageServer(title: string): Promise<PageServer> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>${title}</title><h1>${title}</h1>`);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface PageFetch {
  ok: boolean;
  status?: number;
  body?: { data?: any; errors?: { extensions?: { code?: string } }[] };
  requestId?: string | null;
  error?: string;
}

/** Runs fetch inside the page, as the frontend's own script; a CORS refusal surfaces as the TypeError fetch rejects with. */
function fetchFromPage(page: Page, args: { url: string; token: string; query: string; variables?: Record<string, unknown> }): Promise<PageFetch> {
  return page.evaluate(async ({ url, token, query, variables }) => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': 'frontend-req-1' },
        body: JSON.stringify({ query, variables }),
      });
      return { ok: true, status: response.status, body: (await response.json()) as PageFetch['body'], requestId: response.headers.get('x-request-id') };
    } catch (error) {
      return { ok: false, error: `${(error as Error).name}: ${(error as Error).message}` };
    }
  }, args);
}

const ME = 'query { me { status email } }';

describeInBrowser('CORS from a real browser page on another origin', () => {
  let stack: TestStack;
  let browser: Chromium;
  let allowed: PageServer;
  let tenantSet: PageServer;
  let foreign: PageServer;
  let graphql: string;
  let subjectToken: string;

  beforeAll(async () => {
    [allowed, tenantSet, foreign] = await Promise.all([startPageServer('Shop frontend'), startPageServer('Tenant frontend'), startPageServer('Foreign page')]);
    stack = await startTestStack({ env: { CORS_ORIGINS: allowed.origin, TENANT_POLICY_CACHE_MS: '0' } });
    graphql = stack.running.gateway.graphqlUrl;
    browser = await launchChromium();
    const subject = await createSubject(stack, 'cors-browser-user', PROFILE, []);
    subjectToken = subject.token;
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await Promise.all([allowed, tenantSet, foreign].map((server) => server?.close()));
  });

  async function open(server: PageServer) {
    const page = await browser.context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    await page.goto(`${server.origin}/`);
    return { page, consoleErrors };
  }

  test('a page on an origin in CORS_ORIGINS reads the signed-in user\'s own profile, and sees the exposed request id', async () => {
    const { page } = await open(allowed);
    const result = await fetchFromPage(page, { url: graphql, token: subjectToken, query: ME });
    expect(result).toEqual({
      ok: true,
      status: 200,
      body: { data: { me: { status: 'ACTIVE', email: PROFILE.email } } },
      requestId: 'frontend-req-1',
    });
    await page.close();
  });

  test('a page on an origin the tenant admin allowed reads it too; before the tenant allows it the browser blocks it', async () => {
    const { page } = await open(tenantSet);
    const before = await fetchFromPage(page, { url: graphql, token: subjectToken, query: ME });
    expect(before).toEqual({ ok: false, error: expect.stringMatching(/^TypeError: /) });

    const shop = await createTenant(stack, 'Browser Shop');
    const set = await stack.gql('mutation($origins: [String!]!) { setAllowedOrigins(origins: $origins) { allowedOrigins } }', { origins: [tenantSet.origin] }, {
      token: await stack.tokens.tenant(shop, ['tenant:admin']),
    });
    expectNoErrors(set);
    const after = await fetchFromPage(page, { url: graphql, token: subjectToken, query: ME });
    expect(after).toMatchObject({ ok: true, status: 200, body: { data: { me: { status: 'ACTIVE', email: PROFILE.email } } } });
    await page.close();
  });

  test('a page on a foreign origin gets a browser-blocked fetch (TypeError) and no data, and its write never reaches the API', async () => {
    const { page, consoleErrors } = await open(foreign);
    const read = await fetchFromPage(page, { url: graphql, token: subjectToken, query: ME });
    expect(read).toEqual({ ok: false, error: expect.stringMatching(/^TypeError: /) });
    expect(JSON.stringify(read)).not.toContain(PROFILE.email);

    // A non-simple request: the browser sends the preflight, gets no CORS approval, and never sends the POST.
    const write = await fetchFromPage(page, {
      url: graphql,
      token: subjectToken,
      query: 'mutation($input: ProfileInput!) { updateMyProfile(input: $input) { email } }',
      variables: { input: { email: 'attacker@evil.example' } },
    });
    expect(write).toEqual({ ok: false, error: expect.stringMatching(/^TypeError: /) });
    const stored = await stack.gql(ME, {}, { token: subjectToken });
    expect(stored.data).toEqual({ me: { status: 'ACTIVE', email: PROFILE.email } });
    // Chromium reports each refusal in the page's console, naming the CORS policy.
    expect(consoleErrors.some((text) => /CORS policy/.test(text))).toBe(true);
    await page.close();
  });
});
