import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describeInBrowser, launchChromium, type Chromium } from '../kit/browser';
import { createTenant } from '../kit/scenario';
import { startTestStack, type TestStack } from '../kit/stack';

/**
 * What an admin of an offline install sees: the sandbox opened in headless Chromium with every
 * request to another host blocked. The screenshot (test/artifacts/sandbox.png, gitignored) is for a
 * person to look at.
 */
const ARTIFACTS = join(__dirname, '..', 'artifacts');

describeInBrowser('sandbox in a real browser, offline', () => {
  let stack: TestStack;
  let browser: Chromium;
  beforeAll(async () => {
    stack = await startTestStack();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  /** Opens a page on which every request to a host other than the gateway is aborted and recorded. */
  async function openOffline(path: string) {
    const gateway = new URL(stack.running.gateway.url);
    const foreign: string[] = [];
    const problems: string[] = [];
    const page = await browser.context.newPage();
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.host === gateway.host) return route.continue();
      foreign.push(url.href);
      return route.abort('blockedbyclient');
    });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    // A CSP violation would mean the page needs something the policy forbids (and fails on a strict install).
    await page.addInitScript({
      content: "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
    });
    page.on('requestfailed', (request) => {
      if (new URL(request.url()).host === gateway.host) problems.push(`failed: ${request.url()}`);
    });
    await page.goto(`${stack.running.gateway.url}${path}`, { waitUntil: 'load' });
    return { page, foreign, problems };
  }

  async function setQuery(page: Page, query: string) {
    const editor = page.locator('.graphiql-query-editor .CodeMirror');
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(query);
  }

  test('opening /graphql renders GraphiQL from the gateway alone; an admin token pasted in the page reads the tenants', async () => {
    const shopName = `Offline Shop ${Date.now()}`;
    await createTenant(stack, shopName);
    const { page, foreign, problems } = await openOffline('/graphql');

    await page.locator('.graphiql-container').waitFor();
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
    await page.getByRole('textbox', { name: /access token/i }).fill(await stack.tokens.admin());
    await page.getByLabel(/purpose/i).fill('support');
    await page.locator('#pg-who[data-kind="admin"]').waitFor();
    await setQuery(page, 'query Tenants {\n  tenants {\n    id\n    name\n  }\n}');
    await page.locator('.graphiql-execute-button').click();

    const result = page.locator('.graphiql-response');
    await result.getByText(shopName).waitFor();
    expect(await result.innerText()).toContain('"tenants"');
    await page.locator('#pg-last').getByText(/HTTP 200 · request id /).waitFor();

    // The schema loaded (introspection) so the docs explorer has the API's types.
    await page.locator('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]').click();
    await page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().waitFor();

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'sandbox.png') });

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    // Kept in this tab only: no cookie, nothing in localStorage.
    expect(await browser.context.cookies()).toEqual([]);
    const stored = await page.evaluate("({ local: Object.keys(localStorage), token: sessionStorage.getItem('privgraph.sandbox.token') !== null })");
    expect(stored).toEqual({ local: [], token: true });
    await page.close();
  });

  test('/sandbox is the same IDE; once the token is cleared the API answers UNAUTHENTICATED in the result pane', async () => {
    const { page, foreign, problems } = await openOffline('/sandbox');
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
    await page.getByRole('textbox', { name: /access token/i }).fill(await stack.tokens.admin());
    await page.locator('#pg-who[data-kind="admin"]').waitFor();
    await page.locator('#pg-token-clear').click();
    await page.locator('#pg-who[data-kind="none"]').waitFor();
    expect(await page.evaluate("sessionStorage.getItem('privgraph.sandbox.token')")).toBeNull();
    // The page's own starting query, run as is.
    await page.locator('.graphiql-query-editor').getByText('npm run token -- admin').waitFor();
    await page.locator('.graphiql-execute-button').click();
    await page.locator('.graphiql-response').getByText('UNAUTHENTICATED').waitFor();
    expect(await page.locator('.graphiql-response').innerText()).not.toContain('"tenants": [');
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
