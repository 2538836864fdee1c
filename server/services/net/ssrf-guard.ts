/**
 * Outbound-request guard against server-side request forgery (SSRF), shared by URL previews,
 * push gateways and federation: a user-chosen URL must not make Hearth talk to the board's own
 * services, the LAN, or cloud metadata endpoints (169.254.169.254 on Graviton).
 *
 * Where the check happens, and why there:
 * - `guardedLookup` replaces DNS resolution for net/http/https/tls: every address a name
 *   resolves to is classified and refused ones are dropped, so the socket can only ever be
 *   opened to an allowed address. Because it runs at connect time, for each connection (and
 *   each redirect), a DNS-rebinding name that answered a public address earlier and a private
 *   one now is still refused.
 * - Node skips `lookup` for IP literals, so `guardedRequest` checks literal hosts itself, and
 *   re-checks the socket's actual `remoteAddress` once it connects (defence in depth: proxies,
 *   reused keep-alive sockets, anything that bypassed the lookup).
 *
 * Refused: unspecified, loopback, private (RFC 1918, IPv6 ULA), link-local, CGNAT (RFC 6598),
 * multicast, broadcast/reserved, documentation and benchmark ranges, and IPv6 forms that embed
 * an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) when the embedded one is refused.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Socket } from 'node:net';

export class SsrfError extends Error {
  readonly code = 'ESSRF';
  constructor(
    message: string,
    readonly address?: string,
  ) {
    super(message);
  }
}

export interface GuardOptions {
  /** Allow every private/loopback/link-local address (tests, LAN-only appliances). */
  allowPrivate?: boolean;
  /** Addresses or CIDR ranges allowed even though they are in a refused range, e.g. "10.0.0.5" or "192.168.1.0/24". */
  allowlist?: readonly string[];
  /** Resolver to use instead of the system's dns.lookup (custom DNS servers; tests). */
  lookup?: typeof dns.lookup;
}

interface Range {
  bytes: Uint8Array;
  prefix: number;
  reason: string;
}

/** Parses an IPv4 or IPv6 literal (zone id allowed) into 4 or 16 bytes; undefined when not an IP. */
export function parseIp(ip: string): Uint8Array | undefined {
  const s = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const kind = net.isIP(s);
  if (kind === 4) return Uint8Array.from(s.split('.').map(Number));
  if (kind !== 6) return undefined;
  let head = s;
  let tailV4: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tailV4 = s.slice(lastColon + 1).split('.').map(Number);
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const l = left ? left.split(':') : [];
  const r = right !== undefined && right !== '' ? right.split(':') : [];
  const groups = right === undefined ? l : [...l, ...Array(8 - l.length - r.length).fill('0'), ...r];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g || '0', 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tailV4.length === 4) out.set(tailV4, 12);
  return out;
}

function parseCidr(cidr: string, reason = 'allowlisted'): Range {
  const [addr, len] = cidr.trim().split('/');
  const bytes = parseIp(addr ?? '');
  if (!bytes) throw new Error(`not an IP address or CIDR range: '${cidr}'`);
  const max = bytes.length * 8;
  const prefix = len === undefined ? max : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`bad prefix length in '${cidr}'`);
  return { bytes, prefix, reason };
}

function inRange(ip: Uint8Array, r: Range): boolean {
  if (ip.length !== r.bytes.length) return false;
  let bits = r.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i]! & mask) !== (r.bytes[i]! & mask)) return false;
  }
  return true;
}

const V4_REFUSED: Range[] = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
].map(([c, r]) => parseCidr(c!, r));

const V6_REFUSED: Range[] = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['100::/64', 'discard-only'],
  ['2001:db8::/32', 'documentation'],
  ['2001::/23', 'IETF protocol assignments'],
  ['fc00::/7', 'unique local (private)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
].map(([c, r]) => parseCidr(c!, r));

/** IPv6 forms that carry an IPv4 address; the embedded address decides. */
const V6_EMBEDDING: Array<{ range: Range; at: number }> = [
  { range: parseCidr('::ffff:0:0/96'), at: 12 }, // IPv4-mapped
  { range: parseCidr('::/96'), at: 12 }, // IPv4-compatible (deprecated)
  { range: parseCidr('64:ff9b::/96'), at: 12 }, // NAT64
  { range: parseCidr('64:ff9b:1::/48'), at: 12 }, // local-use NAT64
  { range: parseCidr('2002::/16'), at: 2 }, // 6to4
];

function classifyBytes(b: Uint8Array): string | null {
  if (b.length === 4) {
    if (b.every((x) => x === 255)) return 'broadcast';
    return V4_REFUSED.find((r) => inRange(b, r))?.reason ?? null;
  }
  // :: and ::1 first: they also fall inside the IPv4-compatible ::/96 below.
  const exact = V6_REFUSED.slice(0, 2).find((r) => inRange(b, r));
  if (exact) return exact.reason;
  const embedding = V6_EMBEDDING.find((e) => inRange(b, e.range));
  if (embedding) {
    const inner = classifyBytes(b.slice(embedding.at, embedding.at + 4));
    return inner ? `${inner} (embedded IPv4)` : null;
  }
  return V6_REFUSED.find((r) => inRange(b, r))?.reason ?? null;
}

/** Why `ip` is in a refused range ("loopback", "private", …), or null when it is a public address. */
export function classifyAddress(ip: string): string | null {
  const b = parseIp(ip);
  if (!b) return 'not an IP address';
  return classifyBytes(b);
}

/** A reusable checker built once from the options (the allowlist is parsed up front, so bad entries fail at startup). */
export function addressChecker(opts: GuardOptions = {}): (ip: string) => string | null {
  const allow = (opts.allowlist ?? []).map((c) => parseCidr(c));
  return (ip) => {
    if (opts.allowPrivate) return null;
    const b = parseIp(ip);
    if (!b) return 'not an IP address';
    const reason = classifyBytes(b);
    if (!reason) return null;
    // An IPv4-mapped address is matched against IPv4 allowlist entries too.
    const v4 = b.length === 16 && inRange(b, V6_EMBEDDING[0]!.range) ? b.slice(12) : null;
    if (allow.some((r) => inRange(b, r) || (v4 !== null && inRange(v4, r)))) return null;
    return reason;
  };
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;
export type LookupFunction = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => void;

/**
 * A `lookup` for net.connect / http.request / tls.connect that resolves normally and then drops
 * refused addresses; fails with SsrfError when none is left.
 */
export function guardedLookup(opts: GuardOptions = {}, resolver: typeof dns.lookup = dns.lookup): LookupFunction {
  const check = addressChecker(opts);
  return (hostname, options, callback) => {
    resolver(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, options.all ? [] : '');
      const list = addresses as dns.LookupAddress[];
      const ok = list.filter((a) => check(a.address) === null);
      if (ok.length === 0) {
        const first = list[0];
        const why = first ? check(first.address) : 'no addresses';
        return callback(new SsrfError(`refusing to connect to ${hostname}: ${first?.address ?? ''} is ${why}`, first?.address), options.all ? [] : '');
      }
      if (options.all) callback(null, ok);
      else callback(null, ok[0]!.address, ok[0]!.family);
    });
  };
}

/** Destroys the socket if it is (or becomes) connected to a refused address. */
function watchSocket(socket: Socket, check: (ip: string) => string | null, req: http.ClientRequest): void {
  const verify = () => {
    const addr = socket.remoteAddress;
    const why = addr ? check(addr) : 'unknown peer';
    if (why) req.destroy(new SsrfError(`refusing connection to ${addr}: ${why}`, addr));
  };
  if (socket.remoteAddress) verify();
  else socket.once('connect', verify);
}

export interface GuardedRequestOptions extends Omit<http.RequestOptions, 'lookup' | 'host' | 'hostname' | 'port' | 'path' | 'protocol'> {
  /** Extra TLS options for https (ca, servername, rejectUnauthorized…). */
  ca?: string | Buffer | Array<string | Buffer>;
}

/**
 * Starts an http(s) request to `url` that can only reach allowed addresses. Behaves like
 * http.request (call `.end()`, listen for 'response' and 'error'); a refused address surfaces
 * as an 'error' event carrying an SsrfError.
 */
export function guardedRequest(url: URL, options: GuardedRequestOptions, guard: GuardOptions = {}): http.ClientRequest {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SsrfError(`unsupported URL scheme ${url.protocol}`);
  const check = addressChecker(guard);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const mod = url.protocol === 'https:' ? https : http;
  const req = mod.request({
    ...options,
    protocol: url.protocol,
    hostname: host,
    port: url.port || undefined,
    path: `${url.pathname}${url.search}`,
    lookup: guardedLookup(guard, guard.lookup) as unknown as typeof dns.lookup,
    // A fresh agent-less connection: a pooled socket opened for another caller must not be reused.
    agent: options.agent ?? false,
    ...(url.protocol === 'https:' && net.isIP(host) === 0 ? { servername: host } : {}),
  } as https.RequestOptions);
  if (net.isIP(host)) {
    // Node connects to literals without calling lookup.
    const why = check(host);
    if (why) {
      process.nextTick(() => req.destroy(new SsrfError(`refusing to connect to ${host}: ${why}`, host)));
      return req;
    }
  }
  req.on('socket', (socket) => watchSocket(socket, check, req));
  return req;
}

export interface FetchOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Largest body accepted; larger bodies end the request with a FetchLimitError. */
  maxBytes: number;
  /** Past maxBytes, stop reading and return the first maxBytes instead of failing (HTML heads). */
  truncate?: boolean;
  /** Chooses maxBytes/truncate from the response headers (e.g. more for images than for pages). */
  limitFor?: (headers: http.IncomingHttpHeaders) => { maxBytes: number; truncate: boolean };
  /** Whole-request deadline (connect, redirects and body). */
  timeoutMs: number;
  maxRedirects?: number;
  guard?: GuardOptions;
  signal?: AbortSignal;
}

export class FetchLimitError extends Error {}

export interface FetchResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The URL the body came from, after redirects. */
  url: URL;
}

/**
 * GETs a URL through the guard, following redirects (each one re-checked), with byte and time
 * limits. For small documents (HTML pages, preview images); stream with guardedRequest otherwise.
 */
export async function guardedFetch(url: URL, o: FetchOptions): Promise<FetchResult> {
  const deadline = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await fetchOnce(current, o, signal);
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location && res.status !== 304) {
      if (hop >= (o.maxRedirects ?? 5)) throw new FetchLimitError('too many redirects');
      current = new URL(location, current);
      continue;
    }
    return { ...res, url: current };
  }
}

function fetchOnce(url: URL, o: FetchOptions, signal: AbortSignal): Promise<Omit<FetchResult, 'url'>> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new FetchLimitError('request timed out'));
    let req: http.ClientRequest;
    try {
      req = guardedRequest(url, { method: o.method ?? 'GET', headers: o.headers, signal }, o.guard);
    } catch (e) {
      return reject(e);
    }
    req.on('error', (e) => reject(signal.aborted && !(e instanceof SsrfError) ? new FetchLimitError('request timed out') : e));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        return resolve({ status, headers: res.headers, body: Buffer.alloc(0) });
      }
      const limit = o.limitFor?.(res.headers) ?? { maxBytes: o.maxBytes, truncate: o.truncate === true };
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > limit.maxBytes && !limit.truncate) {
        req.destroy();
        return reject(new FetchLimitError(`response is larger than ${limit.maxBytes} bytes`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limit.maxBytes) {
          if (limit.truncate) {
            chunks.push(c.subarray(0, c.length - (size - limit.maxBytes)));
            res.removeAllListeners('data');
            res.removeAllListeners('end');
            req.destroy();
            return resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
          }
          req.destroy();
          reject(new FetchLimitError(`response is larger than ${limit.maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => reject(signal.aborted ? new FetchLimitError('request timed out') : e));
    });
    req.end();
  });
}
