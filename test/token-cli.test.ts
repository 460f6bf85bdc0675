import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';

/** `npm run token` as a user runs it: stdout holds only the token. */
describe('npm run token', () => {
  const root = join(__dirname, '..');
  const dataDir = mkdtempSync(join(tmpdir(), 'privgraph-token-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const run = (args: string[], env: Record<string, string> = {}) => {
    // As from a user's shell: no NODE_ENV from jest, and no npm_config_* inherited from an outer `npm run`
    // (an outer --loglevel would override the repository's .npmrc and bring npm's banner back).
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'NODE_ENV' && !key.toLowerCase().startsWith('npm_config_')));
    return spawnSync('npm', ['run', 'token', '--', ...args], {
      cwd: root,
      env: { ...base, PRIVGRAPH_DATA_DIR: dataDir, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
  };

  test('prints one Logto-shaped token per principal and nothing else on stdout', () => {
    const admin = run(['admin']);
    expect(admin.status).toBe(0);
    expect(admin.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(decodeProtectedHeader(admin.stdout.trim())).toMatchObject({ alg: 'ES384', typ: 'at+jwt' });
    expect(decodeJwt(admin.stdout.trim())).toMatchObject({ scope: 'platform:admin' });

    const tenant = run(['tenant', 'tenant-123', '--scopes', 'pii:contact:read pii:identity:read', '--ttl', '60']);
    const claims = decodeJwt(tenant.stdout.trim());
    expect(claims).toMatchObject({ organization_id: 'tenant-123', scope: 'pii:contact:read pii:identity:read' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(60);

    expect(decodeJwt(run(['subject', 'alice']).stdout.trim())).toMatchObject({ sub: 'alice' });
    // The IdP's verification claims, which a passport's flags come from.
    const verified = decodeJwt(run(['subject', 'alice', '--email-verified', 'true', '--phone-number-verified', 'false']).stdout.trim());
    expect(verified).toMatchObject({ sub: 'alice', email_verified: true, phone_number_verified: false });
    expect(decodeJwt(run(['subject', 'alice']).stdout.trim())).not.toHaveProperty('email_verified');
    // The app the person signed in to: the dev app by default, a shop's storefront app when named.
    expect(decodeJwt(run(['subject', 'alice']).stdout.trim())).toMatchObject({ client_id: 'privgraph-dev-app' });
    expect(decodeJwt(run(['subject', 'alice', '--client-id', 'shop-a-storefront']).stdout.trim())).toMatchObject({ sub: 'alice', client_id: 'shop-a-storefront' });

    // A staff user acting for the shop: the user is the subject of the token, not the client.
    const member = decodeJwt(run(['member', 'tenant-123', 'staff-bob', 'pii:contact:read', 'tenant:admin']).stdout.trim());
    expect(member).toMatchObject({ sub: 'staff-bob', organization_id: 'tenant-123', scope: 'pii:contact:read tenant:admin' });
    expect(member.client_id).not.toBe('staff-bob');
  });

  test('refuses bad usage with a message on stderr', () => {
    const result = run(['tenant']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/tenant needs the tenant id/);
    expect(run(['member', 'tenant-123']).stderr).toMatch(/member needs the staff user/);
    expect(run(['subject', 'alice', '--ttl', 'forever']).stderr).toMatch(/--ttl must be/);
    expect(run(['subject', 'alice', '--email-verified', 'yes']).stderr).toMatch(/--email-verified must be true or false/);
    expect(run(['subject', 'alice', '--client-id', 'has space']).stderr).toMatch(/--client-id must be/);
    expect(run(['admin', '--client-id', 'shop-a-storefront']).stderr).toMatch(/--client-id is for a subject token/);
  });

  test('is refused in production and when an external issuer is configured', () => {
    const production = run(['admin'], { NODE_ENV: 'production' });
    expect(production.status).toBe(2);
    expect(production.stdout).toBe('');
    expect(production.stderr).toMatch(/disabled when NODE_ENV=production/);
    expect(run(['admin'], { LOGTO_ENDPOINT: 'https://auth.example.com' }).stderr).toMatch(/external issuer is configured/);
  });
});
