import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateDevIssuerKey } from './auth/dev-issuer';
import { ConfigError, loadCommonConfig } from './config';

describe('configuration', () => {
  const token = 'x'.repeat(40);

  test('production refuses the development issuer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'privgraph-config-'));
    try {
      await loadOrCreateDevIssuerKey(dir);
      expect(() => loadCommonConfig({ NODE_ENV: 'production', PRIVGRAPH_DATA_DIR: dir, INTERNAL_API_TOKEN: token }, 'PORT', 4000)).toThrow(
        /AUTH_ISSUER or LOGTO_ENDPOINT: required in production/,
      );
      expect(loadCommonConfig({ PRIVGRAPH_DATA_DIR: dir, INTERNAL_API_TOKEN: token }, 'PORT', 4000).auth.issuer).toBe('urn:privgraph:dev-issuer');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Logto defaults: issuer <endpoint>/oidc, JWKS <endpoint>/oidc/jwks, organization_id, space-separated scope', () => {
    const config = loadCommonConfig(
      { NODE_ENV: 'production', LOGTO_ENDPOINT: 'https://auth.example.com/', AUTH_AUDIENCE: 'https://api.shop.example', INTERNAL_API_TOKEN: token },
      'PORT',
      4000,
    );
    expect(config.auth).toMatchObject({
      issuer: 'https://auth.example.com/oidc',
      jwks: { kind: 'remote', url: 'https://auth.example.com/oidc/jwks' },
      audience: 'https://api.shop.example',
      tenantClaim: 'organization_id',
      scopeClaim: 'scope',
    });
  });

  test('every problem is reported at once, by variable name', () => {
    let error: unknown;
    try {
      loadCommonConfig({ AUTH_ISSUER: 'https://idp.example', AUTH_ALGORITHMS: 'HS256,none', PORT: 'eighty' }, 'PORT', 4000);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/AUTH_ALGORITHMS/);
    expect(() => loadCommonConfig({ AUTH_ISSUER: 'https://idp.example', INTERNAL_API_TOKEN: token }, 'PORT', 4000)).toThrow(/AUTH_AUDIENCE/);
    expect(() => loadCommonConfig({ AUTH_ISSUER: 'https://idp.example', AUTH_AUDIENCE: 'a', INTERNAL_API_TOKEN: token, PORT: 'eighty' }, 'PORT', 4000)).toThrow(/PORT/);
  });
});
