import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { badInput } from '../../../../shared/errors';

/**
 * Where a shop's webhooks may be sent. In production an endpoint must be https and must not reach the
 * platform's own network (SSRF): loopback, private, link-local, CGNAT, multicast, unspecified and other
 * special-purpose addresses (RFC 6890 / IANA special-purpose registries, IPv4 and IPv6, IPv4-mapped
 * included) are refused unless WEBHOOK_ALLOW_PRIVATE_URLS=true. The addresses are checked when the
 * endpoint is registered and again at every delivery, on the very addresses the connection uses
 * (DNS can change between the two: rebinding).
 */
export interface WebhookUrlPolicy {
  production: boolean;
  allowPrivateUrls: boolean;
}

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** Resolves a host name to all its addresses (injected in tests). */
export type HostResolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

/** A name server that never answers must not hold a tenant admin's request (or a worker) for minutes. */
const RESOLVE_TIMEOUT_MS = 5000;

export const systemResolver: HostResolver = (hostname) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error('DNS lookup timed out'), { code: 'ETIMEOUT' })), RESOLVE_TIMEOUT_MS);
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(addresses);
    });
  });

const refuse = (message: string) => badInput('input.url', message);

/** Checks everything that needs no DNS; returns the parsed URL. */
export function parseWebhookUrl(raw: string, policy: WebhookUrlPolicy): URL {
  if (typeof raw !== 'string' || raw.length === 0) throw refuse('url is required');
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) throw refuse(`url must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  if (raw.trim() !== raw || /[\s\u0000-\u001f]/.test(raw)) throw refuse('url must not contain spaces or control characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('url is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse('url must be an https URL');
  if (url.protocol === 'http:' && policy.production) throw refuse('url must use https in production');
  if (url.username || url.password) throw refuse('url must not contain credentials; authenticate deliveries by their signature');
  if (url.hash) throw refuse('url must not contain a fragment');
  if (!url.hostname) throw refuse('url has no host');
  if (mustCheckAddresses(policy)) {
    const host = bareHost(url.hostname);
    if (isIP(host)) {
      if (isPrivateAddress(host)) throw refuse('url points to a private, loopback or otherwise non-public address');
    } else if (host === 'localhost' || host.endsWith('.localhost') || !host.includes('.')) {
      throw refuse('url points to a local host name');
    }
  }
  return url;
}

/** Registration-time check: the URL's form and, in production, every address its host resolves to. */
export async function checkWebhookUrl(raw: string, policy: WebhookUrlPolicy, resolve: HostResolver = systemResolver): Promise<URL> {
  const url = parseWebhookUrl(raw, policy);
  if (!mustCheckAddresses(policy)) return url;
  const host = bareHost(url.hostname);
  if (isIP(host)) return url;
  let addresses: { address: string }[];
  try {
    addresses = await resolve(host);
  } catch {
    throw refuse('url host cannot be resolved');
  }
  if (addresses.length === 0) throw refuse('url host cannot be resolved');
  if (addresses.some((a) => isPrivateAddress(a.address))) throw refuse('url resolves to a private, loopback or otherwise non-public address');
  return url;
}

export function mustCheckAddresses(policy: WebhookUrlPolicy): boolean {
  return policy.production && !policy.allowPrivateUrls;
}

/** `[::1]` → `::1` (URL keeps IPv6 literals in brackets). */
function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname.replace(/\.$/, '');
}

/**
 * A `lookup` for http(s).request that refuses non-public addresses at connection time, so the address
 * that was checked is the address that is connected to (no time-of-check/time-of-use gap).
 */
export function guardedLookup(policy: WebhookUrlPolicy) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true } as never, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      if (mustCheckAddresses(policy) && addresses.some((a) => isPrivateAddress(a.address))) {
        const refused: NodeJS.ErrnoException = new Error('address refused by the webhook URL policy');
        refused.code = 'EWEBHOOKADDRESS';
        return callback(refused, '', 0);
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses;
      return callback(null, first.address, first.family);
    });
  };
}

type Range = [prefix: bigint, bits: number];

const v4 = (text: string): bigint => text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);

/** IPv4 ranges that are not the public internet (IANA IPv4 Special-Purpose Address Registry). */
const PRIVATE_V4: Range[] = (
  [
    ['0.0.0.0', 8], // "this network", incl. the unspecified address
    ['10.0.0.0', 8], // private (RFC 1918)
    ['100.64.0.0', 10], // carrier-grade NAT (RFC 6598)
    ['127.0.0.0', 8], // loopback
    ['169.254.0.0', 16], // link-local (and cloud metadata services)
    ['172.16.0.0', 12], // private
    ['192.0.0.0', 24], // IETF protocol assignments
    ['192.0.2.0', 24], // documentation
    ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
    ['192.168.0.0', 16], // private
    ['198.18.0.0', 15], // benchmarking
    ['198.51.100.0', 24], // documentation
    ['203.0.113.0', 24], // documentation
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, incl. broadcast
  ] as const
).map(([text, bits]) => [v4(text), bits]);

function v6(text: string): bigint | null {
  let address = text.toLowerCase();
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hextets.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (dotted) {
    if (isIP(dotted[1]) !== 4) return null;
    const n = v4(dotted[1]);
    address = `${address.slice(0, dotted.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const halves = address.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const v6Range = (text: string, bits: number): Range => [v6(text) as bigint, bits];

/** IPv6 ranges that are not the public internet (IANA IPv6 Special-Purpose Address Registry). */
const PRIVATE_V6: Range[] = [
  v6Range('::', 128), // unspecified
  v6Range('::1', 128), // loopback
  v6Range('100::', 64), // discard-only
  v6Range('2001::', 23), // IETF protocol assignments (Teredo, ORCHID, …)
  v6Range('2001:db8::', 32), // documentation
  v6Range('fc00::', 7), // unique local (private)
  v6Range('fe80::', 10), // link-local
  v6Range('fec0::', 10), // site-local (deprecated)
  v6Range('ff00::', 8), // multicast
];

/** IPv6 forms that carry an IPv4 address, which then decides: mapped, compatible, NAT64. */
const EMBEDDED_V4: Range[] = [v6Range('::ffff:0:0', 96), v6Range('::', 96), v6Range('64:ff9b::', 96)];

const inRange = (value: bigint, [prefix, bits]: Range, width: number) => value >> BigInt(width - bits) === prefix >> BigInt(width - bits);

/** True for an address that is not a public unicast address (or that cannot be parsed: fail closed). */
export function isPrivateAddress(address: string): boolean {
  const host = bareHost(address);
  const family = isIP(host.split('%')[0]);
  if (family === 4) return PRIVATE_V4.some((range) => inRange(v4(host), range, 32));
  if (family !== 6) return true;
  const value = v6(host);
  if (value === null) return true;
  if (value === 0n || value === 1n) return true;
  for (const range of EMBEDDED_V4) {
    if (inRange(value, range, 128)) return PRIVATE_V4.some((r) => inRange(value & 0xffffffffn, r, 32));
  }
  if (inRange(value, v6Range('2002::', 16), 128)) {
    // 6to4 carries the IPv4 address in bits 16-48.
    return PRIVATE_V4.some((r) => inRange((value >> 80n) & 0xffffffffn, r, 32));
  }
  return PRIVATE_V6.some((range) => inRange(value, range, 128));
}
