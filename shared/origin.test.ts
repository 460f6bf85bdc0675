import { ConfigError, loadOriginSettings } from './config';
import {
  DEFAULT_ORIGIN_SETTINGS,
  ORIGIN_PATTERN,
  clientAddress,
  formatIp,
  forwardingHeaders,
  originValue,
  parseIp,
  parseTrustedProxies,
  truncateIp,
  userAgentClass,
  type OriginSettings,
} from './origin';

const headers = (values: Record<string, string>) => ({ header: (name: string) => values[name.toLowerCase()] });

function trusting(list: string, extra: Partial<OriginSettings> = {}): OriginSettings {
  const parsed = parseTrustedProxies(list);
  if (!('proxies' in parsed)) throw new Error(parsed.problem);
  return { ...DEFAULT_ORIGIN_SETTINGS, trustedProxies: parsed.proxies, ...extra };
}

const truncated = (text: string) => {
  const address = parseIp(text);
  return address ? truncateIp(address) : null;
};

describe('addresses', () => {
  test('IPv4 is truncated to its /24', () => {
    expect(truncated('203.0.113.77')).toBe('203.0.113.0/24');
    expect(truncated('10.1.2.3')).toBe('10.1.2.0/24');
  });

  test('IPv6 is truncated to its /48, written as RFC 5952 says', () => {
    expect(truncated('2001:db8:1234:5678:9abc::1')).toBe('2001:db8:1234::/48');
    expect(truncated('2001:0DB8:0000:5678::1')).toBe('2001:db8::/48');
    expect(truncated('::1')).toBe('::/48');
    expect(truncated('fe80::1%eth0')).toBe('fe80::/48');
  });

  test('an IPv4-mapped IPv6 address is the IPv4 address', () => {
    expect(truncated('::ffff:198.51.100.9')).toBe('198.51.100.0/24');
    expect(truncated('::ffff:c633:6409')).toBe('198.51.100.0/24');
    expect(parseIp('::ffff:127.0.0.1')?.family).toBe(4);
  });

  test('malformed addresses are refused', () => {
    for (const text of ['', ' ', '256.1.1.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', 'example.com', '2001:db8::1::2', '2001:db8:::1', 'g::1', '1:2:3:4:5:6:7:8:9', '[::1]', 'a'.repeat(100), '1.2.3.4\u0000']) {
      expect(parseIp(text)).toBeNull();
    }
  });

  test('formatIp gives canonical text', () => {
    expect(formatIp(parseIp('2001:DB8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(parseIp('::ffff:10.0.0.1')!)).toBe('10.0.0.1');
  });

  test('every truncated or hashed value matches the stored shape; a full address does not', () => {
    expect(ORIGIN_PATTERN.test('203.0.113.0/24')).toBe(true);
    expect(ORIGIN_PATTERN.test('2001:db8:1234::/48')).toBe(true);
    expect(ORIGIN_PATTERN.test('203.0.113.7')).toBe(false);
    expect(ORIGIN_PATTERN.test('203.0.113.7/24')).toBe(false);
    expect(ORIGIN_PATTERN.test('2001:db8::1')).toBe(false);
    // The IPv6 shape is exactly what truncateIp writes: at most three groups, then ::/48.
    for (const address of ['::1', '2001:db8::1', '2001:db8:85a3:1:2:3:4:5', '0:0:1::', 'fe80::1%eth0', '2001:0:1234::5']) {
      expect(truncated(address)).toMatch(ORIGIN_PATTERN);
    }
    expect(ORIGIN_PATTERN.test('::/48')).toBe(true);
    expect(ORIGIN_PATTERN.test('2001:db8::/48')).toBe(true);
    for (const full of ['2001:db8:85a3:1:2:3:4:5/48', '2001:db8:85a3:1::/48', '2001:db8::1/48', '::1/48', '2001:db8:85a3/48', ':::/48', '2001:db8:85a3::1/48', '12345::/48']) {
      expect(ORIGIN_PATTERN.test(full)).toBe(false);
    }
    const hmac = originValue(parseIp('203.0.113.7'), { ...DEFAULT_ORIGIN_SETTINGS, mode: 'hmac', hmacSecret: 's'.repeat(32) });
    expect(hmac).toMatch(ORIGIN_PATTERN);
  });
});

describe('origin modes', () => {
  const address = parseIp('203.0.113.7');
  test('truncate (default), hmac (keyed, stable, secret-dependent), off', () => {
    expect(originValue(address, DEFAULT_ORIGIN_SETTINGS)).toBe('203.0.113.0/24');
    const a = originValue(address, { ...DEFAULT_ORIGIN_SETTINGS, mode: 'hmac', hmacSecret: 'a'.repeat(32) });
    expect(a).toMatch(/^hmac:[A-Za-z0-9_-]{43}$/);
    expect(originValue(parseIp('::ffff:203.0.113.7'), { ...DEFAULT_ORIGIN_SETTINGS, mode: 'hmac', hmacSecret: 'a'.repeat(32) })).toBe(a);
    expect(originValue(address, { ...DEFAULT_ORIGIN_SETTINGS, mode: 'hmac', hmacSecret: 'b'.repeat(32) })).not.toBe(a);
    expect(a).not.toContain('203.0.113');
    expect(originValue(address, { ...DEFAULT_ORIGIN_SETTINGS, mode: 'off' })).toBeNull();
    expect(originValue(null, DEFAULT_ORIGIN_SETTINGS)).toBeNull();
  });
});

describe('trusted proxies', () => {
  test('the list takes addresses, networks and keywords, and names what it cannot read', () => {
    const parsed = parseTrustedProxies('loopback, private, 203.0.113.5, 2001:db8::/32');
    expect('proxies' in parsed).toBe(true);
    if (!('proxies' in parsed)) return;
    const has = (text: string) => parsed.proxies.includes(parseIp(text)!);
    expect(has('127.0.0.1')).toBe(true);
    expect(has('::1')).toBe(true);
    expect(has('::ffff:127.0.0.1')).toBe(true);
    expect(has('172.31.255.255')).toBe(true);
    expect(has('172.32.0.1')).toBe(false);
    expect(has('fd00::5')).toBe(true);
    expect(has('203.0.113.5')).toBe(true);
    expect(has('203.0.113.6')).toBe(false);
    expect(has('2001:db8:ffff::1')).toBe(true);
    expect(has('2001:db9::1')).toBe(false);
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.1/8/2', '::ffff:10.0.0.0/104', 'everyone']) {
      expect(parseTrustedProxies(bad)).toHaveProperty('problem');
    }
    expect(parseTrustedProxies('')).toEqual({ proxies: expect.objectContaining({ entries: [] }) });
  });

  test('without trusted proxies the forwarding header is never read (a client cannot claim an address)', () => {
    const forged = headers({ 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.1' });
    expect(formatIp(clientAddress('127.0.0.1', forged, DEFAULT_ORIGIN_SETTINGS)!)).toBe('127.0.0.1');
    expect(formatIp(clientAddress('::ffff:203.0.113.9', forged, DEFAULT_ORIGIN_SETTINGS)!)).toBe('203.0.113.9');
  });

  test('from a trusted peer, X-Forwarded-For is walked from the right up to the first untrusted hop', () => {
    const settings = trusting('loopback, 10.0.0.0/8');
    const from = (peer: string, xff: string) => formatIp(clientAddress(peer, headers({ 'x-forwarded-for': xff }), settings)!);
    expect(from('127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
    // The client prepended a forged hop: the first untrusted hop from the right is the real client.
    expect(from('127.0.0.1', '1.1.1.1, 203.0.113.9, 10.0.0.7')).toBe('203.0.113.9');
    expect(from('127.0.0.1', '[2001:db8::5]:443, 10.0.0.7:8080')).toBe('2001:db8::5');
    // Every hop trusted: the leftmost one.
    expect(from('127.0.0.1', '10.0.0.8,10.0.0.7')).toBe('10.0.0.8');
  });

  test('an untrusted peer is the client, whatever it forwards', () => {
    const settings = trusting('10.0.0.0/8');
    expect(formatIp(clientAddress('198.51.100.20', headers({ 'x-forwarded-for': '10.0.0.1, 203.0.113.9' }), settings)!)).toBe('198.51.100.20');
  });

  test('a malformed hop ends the walk at the proxy that wrote it', () => {
    const settings = trusting('loopback, 10.0.0.0/8');
    const from = (xff: string) => formatIp(clientAddress('127.0.0.1', headers({ 'x-forwarded-for': xff }), settings)!);
    expect(from('203.0.113.9, garbage')).toBe('127.0.0.1');
    expect(from('203.0.113.9, 10.0.0.7, unknown')).toBe('127.0.0.1');
    expect(from('garbage, 10.0.0.7')).toBe('10.0.0.7');
    expect(from('')).toBe('127.0.0.1');
  });

  test('Forwarded (RFC 7239) when configured, and only then', () => {
    const settings = trusting('loopback', { proxyHeader: 'forwarded' });
    const from = (value: Record<string, string>) => formatIp(clientAddress('127.0.0.1', headers(value), settings)!);
    expect(from({ forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43' })).toBe('192.0.2.60');
    expect(from({ forwarded: 'for=198.51.100.1, For="[2001:db8:cafe::17]:4711"' })).toBe('2001:db8:cafe::17');
    expect(from({ forwarded: 'for=_hidden' })).toBe('127.0.0.1');
    expect(from({ forwarded: 'proto=https' })).toBe('127.0.0.1');
    // The header the proxy does not manage is ignored, so a client cannot smuggle one past it.
    expect(from({ 'x-forwarded-for': '198.51.100.1' })).toBe('127.0.0.1');
  });

  test('no peer address, no client', () => {
    expect(clientAddress(undefined, headers({}), DEFAULT_ORIGIN_SETTINGS)).toBeNull();
    expect(clientAddress('not-an-ip', headers({}), DEFAULT_ORIGIN_SETTINGS)).toBeNull();
  });

  test('the gateway forwards exactly the client it determined', () => {
    expect(forwardingHeaders('203.0.113.9')).toEqual({ 'x-forwarded-for': '203.0.113.9', forwarded: 'for=203.0.113.9' });
    expect(forwardingHeaders('2001:db8::5')).toEqual({ 'x-forwarded-for': '2001:db8::5', forwarded: 'for="[2001:db8::5]"' });
    expect(forwardingHeaders(undefined)).toBeNull();
  });
});

describe('user-agent class', () => {
  test.each([
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'BROWSER'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', 'BROWSER'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'BROWSER'],
    ['okhttp/4.12.0', 'MOBILE_APP'],
    ['Shop/3.2 CFNetwork/1494.0.7 Darwin/23.4.0', 'MOBILE_APP'],
    ['Dart/3.4 (dart:io)', 'MOBILE_APP'],
    ['curl/8.5.0', 'CLI'],
    ['Wget/1.21.4', 'CLI'],
    ['HTTPie/3.2.2', 'CLI'],
    ['node', 'SERVER'],
    ['axios/1.7.2', 'SERVER'],
    ['python-requests/2.32.3', 'SERVER'],
    ['Go-http-client/2.0', 'SERVER'],
    ['Java/21.0.2', 'SERVER'],
    ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'BOT'],
    ['Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36 (compatible; Googlebot/2.1)', 'BOT'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36', 'BOT'],
    ['', 'UNKNOWN'],
    ['   ', 'UNKNOWN'],
    ['something/1.0', 'UNKNOWN'],
    ['Mozilla/4.0', 'UNKNOWN'],
  ])('%s → %s', (ua, expected) => {
    expect(userAgentClass(ua)).toBe(expected);
  });

  test('absent and oversized user agents', () => {
    expect(userAgentClass(undefined)).toBe('UNKNOWN');
    expect(userAgentClass(`curl/8.0 ${'x'.repeat(100_000)}`)).toBe('CLI');
  });
});

describe('configuration', () => {
  test('defaults: no trusted proxy, X-Forwarded-For, truncation', () => {
    const settings = loadOriginSettings({});
    expect(settings.trustedProxies.entries).toEqual([]);
    expect(settings.proxyHeader).toBe('x-forwarded-for');
    expect(settings.mode).toBe('truncate');
  });

  test('a list it cannot read, an unknown mode, or hmac without a secret refuse to start', () => {
    expect(() => loadOriginSettings({ TRUSTED_PROXIES: 'loopback, 10.0.0.0/40' })).toThrow(ConfigError);
    expect(() => loadOriginSettings({ AUDIT_ORIGIN: 'full' })).toThrow(ConfigError);
    expect(() => loadOriginSettings({ AUDIT_ORIGIN: 'hmac' })).toThrow(/AUDIT_ORIGIN_HMAC_SECRET/);
    expect(() => loadOriginSettings({ AUDIT_ORIGIN: 'hmac', AUDIT_ORIGIN_HMAC_SECRET: 'short' })).toThrow(ConfigError);
    expect(loadOriginSettings({ AUDIT_ORIGIN: 'hmac', AUDIT_ORIGIN_HMAC_SECRET: 'k'.repeat(32) }).mode).toBe('hmac');
    expect(loadOriginSettings({ TRUSTED_PROXIES: 'private', TRUSTED_PROXY_HEADER: 'forwarded' }).proxyHeader).toBe('forwarded');
  });
});
