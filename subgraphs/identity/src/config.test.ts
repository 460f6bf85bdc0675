import { ConfigError } from '../../../shared/config';
import { DEFAULT_PASSPORT_ISSUER, loadPassportSettings } from './config';

describe('passport settings', () => {
  test('default to ten minutes and the public gateway URL as issuer, else the platform URN', () => {
    expect(loadPassportSettings({})).toEqual({ ttlSeconds: 600, issuer: DEFAULT_PASSPORT_ISSUER });
    expect(loadPassportSettings({ PUBLIC_GATEWAY_URL: 'https://api.example.com' })).toEqual({ ttlSeconds: 600, issuer: 'https://api.example.com' });
    expect(loadPassportSettings({ PUBLIC_GATEWAY_URL: 'https://api.example.com', PASSPORT_ISSUER: 'urn:example:shop-logins', PASSPORT_TTL_SECONDS: '60' })).toEqual({
      ttlSeconds: 60,
      issuer: 'urn:example:shop-logins',
    });
  });

  test.each([
    [{ PASSPORT_TTL_SECONDS: '59' }, /PASSPORT_TTL_SECONDS/],
    [{ PASSPORT_TTL_SECONDS: '3601' }, /PASSPORT_TTL_SECONDS/],
    [{ PASSPORT_TTL_SECONDS: 'ten minutes' }, /PASSPORT_TTL_SECONDS/],
    [{ PASSPORT_ISSUER: 'not a uri' }, /PASSPORT_ISSUER: must be a URI/],
  ])('refuses %j', (env, message) => {
    expect(() => loadPassportSettings(env)).toThrow(ConfigError);
    try {
      loadPassportSettings(env);
    } catch (error) {
      expect((error as ConfigError).problems.join('\n')).toMatch(message);
    }
  });
});
