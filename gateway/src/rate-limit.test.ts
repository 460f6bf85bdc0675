import { anonymousKeyOf, principalKey } from './rate-limit';

describe('anonymous rate-limit keys', () => {
  test('an IPv4 address counts alone, an IPv4-mapped IPv6 address as that IPv4 address', () => {
    expect(anonymousKeyOf('203.0.113.7')).toBe('203.0.113.7');
    expect(anonymousKeyOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(principalKey(undefined, '203.0.113.7').key).not.toBe(principalKey(undefined, '203.0.113.8').key);
  });

  test('IPv6 addresses of one /64 share a budget; another /64 has its own', () => {
    expect(anonymousKeyOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    const one = principalKey(undefined, '2001:db8:1:2::1').key;
    expect(principalKey(undefined, '2001:db8:1:2:ffff:ffff:ffff:ffff').key).toBe(one);
    expect(principalKey(undefined, '2001:db8:1:3::1').key).not.toBe(one);
  });

  test('no address is one shared "unknown" budget', () => {
    expect(anonymousKeyOf(undefined)).toBe('unknown');
  });
});
