import { createHmac } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Where a request came from, for the audit log ("who asked, from where") and the gateway's rate limit:
 * the client's address behind explicitly trusted proxies only, and a coarse class of its user agent.
 * The audit log stores the address truncated (or keyed-hashed, or not at all) and never the raw
 * User-Agent string (a fingerprinting vector): see docs/security.md#request-origin.
 */

export const USER_AGENT_CLASSES = ['BROWSER', 'MOBILE_APP', 'SERVER', 'CLI', 'BOT', 'UNKNOWN'] as const;
export type UserAgentClass = (typeof USER_AGENT_CLASSES)[number];

/** How the audit log records the client's address: truncated to its network (default), keyed-hashed, or not at all. */
export const ORIGIN_MODES = ['truncate', 'hmac', 'off'] as const;
export type OriginMode = (typeof ORIGIN_MODES)[number];

/** The header a trusted proxy appends the client's address to. */
export const PROXY_HEADERS = ['x-forwarded-for', 'forwarded'] as const;
export type ProxyHeader = (typeof PROXY_HEADERS)[number];

export interface IpAddress {
  family: 4 | 6;
  /** 4 or 16 bytes; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is held as the IPv4 address. */
  bytes: Uint8Array;
}

interface Cidr {
  family: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

export interface TrustedProxies {
  /** As configured, for logs and docs (`loopback`, `10.0.0.0/8`, …). */
  entries: string[];
  includes(address: IpAddress): boolean;
}

export interface OriginSettings {
  trustedProxies: TrustedProxies;
  proxyHeader: ProxyHeader;
  mode: OriginMode;
  /** Keys the hash in `hmac` mode (required there). */
  hmacSecret?: string;
}

/** What the audit log records about where a request came from. */
export interface RequestOrigin {
  /** `203.0.113.0/24`, `2001:db8:1234::/48`, `hmac:<43 base64url>`; null when off or unknown. */
  origin: string | null;
  userAgentClass: UserAgentClass;
}

/** The only shapes a stored origin may take: never a full address (the audit ingest and the table check it). */
export const ORIGIN_PATTERN = /^(?:(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}0\/24|(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,2})?::\/48|hmac:[A-Za-z0-9_-]{43})$/;

const KEYWORDS: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  // RFC 1918 and RFC 4193 (unique local) networks.
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const MAX_ADDRESS_LENGTH = 64;
/** Hops looked at in a forwarding header, from the right; a longer chain of trusted hops stops at a proxy. */
const MAX_HOPS = 32;
const MAX_USER_AGENT = 512;

/** An IPv4 or IPv6 address in text (an IPv6 zone id is dropped), or null. */
export function parseIp(text: string): IpAddress | null {
  let value = text.trim();
  if (value.length === 0 || value.length > MAX_ADDRESS_LENGTH) return null;
  const zone = value.indexOf('%');
  if (zone >= 0) value = value.slice(0, zone);
  const family = isIP(value);
  if (family === 4) return { family: 4, bytes: Uint8Array.from(value.split('.').map(Number)) };
  if (family !== 6) return null;
  const bytes = ipv6Bytes(value);
  if (!bytes) return null;
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? { family: 4, bytes: bytes.slice(12) } : { family: 6, bytes };
}

function ipv6Bytes(text: string): Uint8Array | null {
  let value = text.toLowerCase();
  // A trailing dotted IPv4 part (::ffff:192.0.2.1) becomes two hex groups.
  const lastColon = value.lastIndexOf(':');
  const tail = value.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = tail.split('.').map(Number);
    if (v4.length !== 4 || v4.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return null;
    value = `${value.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const halves = value.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':'));
  const head = groupsOf(halves[0]);
  const rest = halves.length === 2 ? groupsOf(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-f]{1,4}$/.test(groups[i])) return null;
    const n = parseInt(groups[i], 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  }
  return bytes;
}

/** The address as text: dotted IPv4, or IPv6 in the RFC 5952 canonical form. */
export function formatIp(address: IpAddress): string {
  if (address.family === 4) return [...address.bytes].join('.');
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((address.bytes[2 * i] << 8) | address.bytes[2 * i + 1]);
  return formatGroups(groups);
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (2+, the first of equals) of zero groups as `::`. */
function formatGroups(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j += 1;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The network the address is in: /24 for IPv4, /48 for IPv6 (a site), e.g. `203.0.113.0/24`, `2001:db8:1234::/48`. */
export function truncateIp(address: IpAddress): string {
  if (address.family === 4) return `${address.bytes[0]}.${address.bytes[1]}.${address.bytes[2]}.0/24`;
  const groups = [0, 1, 2].map((i) => (address.bytes[2 * i] << 8) | address.bytes[2 * i + 1]);
  return `${formatGroups([...groups, 0, 0, 0, 0, 0])}/48`;
}

function parseCidr(text: string): Cidr | null {
  const [base, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  // A mapped IPv6 base would silently change family; name the IPv4 network instead.
  if (base.includes(':') && base.includes('.')) return null;
  const address = parseIp(base);
  if (!address) return null;
  const max = address.family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return null;
  return { family: address.family, bytes: address.bytes, prefix };
}

function inCidr(address: IpAddress, cidr: Cidr): boolean {
  if (address.family !== cidr.family) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address.bytes[i] & mask) !== (cidr.bytes[i] & mask)) return false;
  }
  return true;
}

/**
 * `TRUSTED_PROXIES`: comma-separated IP addresses, CIDR networks and the keywords `loopback`
 * (127.0.0.0/8, ::1) and `private` (10/8, 172.16/12, 192.168/16, fc00::/7); empty = none.
 */
export function parseTrustedProxies(text: string): { proxies: TrustedProxies } | { problem: string } {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const networks: Cidr[] = [];
  for (const entry of entries) {
    const expanded = KEYWORDS[entry.toLowerCase()] ?? [entry];
    for (const item of expanded) {
      const cidr = parseCidr(item);
      if (!cidr) return { problem: `"${entry.slice(0, 60)}" is not an IP address, a CIDR network, "loopback" or "private"` };
      networks.push(cidr);
    }
  }
  return { proxies: { entries, includes: (address) => networks.some((network) => inCidr(address, network)) } };
}

export const NO_TRUSTED_PROXIES: TrustedProxies = { entries: [], includes: () => false };

export const DEFAULT_ORIGIN_SETTINGS: OriginSettings = { trustedProxies: NO_TRUSTED_PROXIES, proxyHeader: 'x-forwarded-for', mode: 'truncate' };

/** One hop of X-Forwarded-For: an address, `[v6]`, `[v6]:port` or `v4:port`. */
function parseHop(text: string): IpAddress | null {
  const value = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) return parseIp(bracketed[1]);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(value);
  return parseIp(v4WithPort ? v4WithPort[1] : value);
}

/** RFC 7239 §4: the `for=` parameter of one forwarded-element (a token or a quoted string). */
function forwardedFor(element: string): string | null {
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
    const raw = pair.slice(eq + 1).trim();
    return raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  return null;
}

/** The hops of a forwarding header, left (client side) to right (nearest proxy). */
function hopsOf(header: string | undefined, kind: ProxyHeader): (string | null)[] {
  if (!header) return [];
  const parts = header.split(',');
  return kind === 'forwarded' ? parts.map(forwardedFor) : parts;
}

type HeaderSource = { header(name: string): string | undefined };

/**
 * The client's address: the TCP peer, or, when the peer is a trusted proxy, the forwarding header
 * walked from the right (nearest hop first) up to the first address that is not a trusted proxy.
 * A malformed hop ends the walk at the proxy that wrote it. Without trusted proxies the header is
 * never read, so a client cannot claim another address by sending one.
 */
export function clientAddress(peer: string | undefined, req: HeaderSource, settings: OriginSettings): IpAddress | null {
  let address = peer === undefined ? null : parseIp(peer);
  if (!address || settings.trustedProxies.entries.length === 0) return address;
  const hops = hopsOf(req.header(settings.proxyHeader), settings.proxyHeader).slice(-MAX_HOPS);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!settings.trustedProxies.includes(address)) break;
    const hop = hops[i] === null ? null : parseHop(hops[i] as string);
    if (!hop) break;
    address = hop;
  }
  return address;
}

/** The origin as the audit log stores it, per the configured mode. */
export function originValue(address: IpAddress | null, settings: OriginSettings): string | null {
  if (!address || settings.mode === 'off') return null;
  if (settings.mode === 'truncate') return truncateIp(address);
  if (!settings.hmacSecret) return null;
  return `hmac:${createHmac('sha256', settings.hmacSecret).update(formatIp(address)).digest('base64url')}`;
}

// Checked in this order; the first that matches decides. Deliberately coarse: a class, never a version.
const UA_RULES: [UserAgentClass, RegExp][] = [
  ['BOT', /bot\b|bot\/|crawl|spider|slurp|headlesschrome|phantomjs|lighthouse|facebookexternalhit|preview|monitor|uptime/i],
  ['CLI', /^(curl|wget|httpie|xh|powershell|aria2|libcurl|insomnia|postmanruntime)\b/i],
  ['MOBILE_APP', /okhttp|cfnetwork|dalvik|\bdart\b|alamofire|reactnative|react-native|expo\/|cronet|darwin\//i],
  ['BROWSER', /^mozilla\/5\.0 .*(chrome|firefox|safari|edg|opr|gecko)/i],
  ['SERVER', /^(node|undici|axios|got|node-fetch|python-|python\/|aiohttp|httpx|go-http-client|java|apache-httpclient|ruby|faraday|php|guzzle|libwww-perl|reqwest|hyper|deno|bun|dotnet|\.net|graphql-request|apollo|urql|privgraph)/i],
];

/** A coarse class of the User-Agent header (the raw string is never stored). */
export function userAgentClass(userAgent: string | undefined): UserAgentClass {
  const value = userAgent?.trim().slice(0, MAX_USER_AGENT);
  if (!value) return 'UNKNOWN';
  for (const [kind, pattern] of UA_RULES) if (pattern.test(value)) return kind;
  return 'UNKNOWN';
}

type OriginSource = HeaderSource & { socket?: { remoteAddress?: string } };

const settingsOf = new WeakMap<object, OriginSettings>();
const resolved = new WeakMap<object, { address: IpAddress | null; origin: RequestOrigin }>();

/** Called by the HTTP layer for every request: which trusted proxies and which mode this service has. */
export function bindOriginSettings(req: object, settings: OriginSettings): void {
  settingsOf.set(req, settings);
}

function resolve(req: OriginSource) {
  let found = resolved.get(req);
  if (!found) {
    const settings = settingsOf.get(req) ?? DEFAULT_ORIGIN_SETTINGS;
    const address = clientAddress(req.socket?.remoteAddress, req, settings);
    found = { address, origin: { origin: originValue(address, settings), userAgentClass: userAgentClass(req.header('user-agent')) } };
    resolved.set(req, found);
  }
  return found;
}

/** The request's origin as audit events record it. */
export function requestOriginOf(req: OriginSource): RequestOrigin {
  return resolve(req).origin;
}

/** The client's full address as text (the rate limit's key, never stored in clear), or undefined. */
export function clientAddressOf(req: OriginSource): string | undefined {
  const { address } = resolve(req);
  return address ? formatIp(address) : undefined;
}

/** The forwarding headers a proxy (the gateway) sends upstream: exactly the client it determined. */
export function forwardingHeaders(address: string | undefined): Record<ProxyHeader, string> | null {
  const parsed = address === undefined ? null : parseIp(address);
  if (!parsed) return null;
  const text = formatIp(parsed);
  return { 'x-forwarded-for': text, forwarded: parsed.family === 6 ? `for="[${text}]"` : `for=${text}` };
}
