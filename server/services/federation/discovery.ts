/**
 * Server discovery: server-server-api.md "Resolving server names". Turns a server name into
 * where to connect (addresses and port), which Host header to send and which name the TLS
 * certificate must be valid for. DNS and the /.well-known fetch are injected so tests can drive
 * every branch; `createDiscovery` in server/appliance/net/discovery-deps.ts wires real ones.
 * Used by federation (outbound requests) and by the setup wizard's federation self-test.
 */

export interface SrvTarget {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

export interface WellKnownResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface DiscoveryDeps {
  /** A and AAAA (CNAMEs followed); [] when none. */
  addresses(host: string): Promise<string[]>;
  /** SRV records; [] when none. */
  srv(name: string): Promise<SrvTarget[]>;
  /** GET https://<hostname>/.well-known/matrix/server, following redirects (not loops). Throws on network errors. */
  fetchWellKnown(hostname: string): Promise<WellKnownResponse>;
  now(): number;
}

export type DiscoveryVia =
  | 'ip-literal'
  | 'explicit-port'
  | 'well-known'
  | 'well-known+srv'
  | 'well-known+8448'
  | 'srv'
  | 'srv-legacy'
  | 'default-8448';

export interface ResolvedServer {
  serverName: string;
  /** What to connect to: an IP literal or a hostname whose `addresses` are given. */
  host: string;
  port: number;
  addresses: string[];
  /** The Host header to send. */
  hostHeader: string;
  /** The name the server's certificate must be valid for (also the SNI name when not an IP). */
  tlsName: string;
  via: DiscoveryVia;
  /** What /.well-known/matrix/server said, or why it was not usable (undefined when not consulted). */
  wellKnown?: { server: string } | { error: string };
  /** Plain-language trace of each step, for the self-test and logs. */
  trace: string[];
}

export class DiscoveryError extends Error {}

export interface ParsedServerName {
  hostname: string;
  port?: number;
  isIp: boolean;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const DNS_NAME = /^[0-9A-Za-z.-]{1,255}$/;

/** Appendices "Server Name": hostname (IPv4, [IPv6] or DNS name) with an optional port. */
export function parseServerName(name: string): ParsedServerName | undefined {
  const m = /^(\[[0-9A-Fa-f:.]{2,45}\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(name);
  if (!m) return undefined;
  const host = m[1]!;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  if (host.startsWith('[')) return { hostname: host, port, isIp: true };
  const v4 = IPV4.exec(host);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) ? { hostname: host, port, isIp: true } : undefined;
  return DNS_NAME.test(host) ? { hostname: host, port, isIp: false } : undefined;
}

/** `Cache-Control: max-age` / `Expires` → lifetime in ms; 24 h by default, capped at 48 h (spec). */
export function wellKnownCacheMs(headers: WellKnownResponse['headers'], now: number): number {
  const DAY = 24 * 3600_000;
  const cc = String(headers['cache-control'] ?? '');
  if (/no-store|no-cache/i.test(cc)) return 0;
  const maxAge = /max-age=(\d+)/i.exec(cc);
  let ms = DAY;
  if (maxAge) ms = Number(maxAge[1]) * 1000;
  else if (headers.expires) {
    const t = Date.parse(String(headers.expires));
    if (!Number.isNaN(t)) ms = Math.max(0, t - now);
  }
  return Math.min(ms, 2 * DAY);
}

interface CacheEntry {
  result: { server: string } | { error: string };
  expires: number;
  failures: number;
}

/** Picks SRV records by priority then weight (RFC 2782), deterministic for equal weights. */
function orderSrv(records: SrvTarget[]): SrvTarget[] {
  return [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight);
}

export class ServerDiscovery {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(private readonly deps: DiscoveryDeps) {}

  /** Forgets cached /.well-known answers (the self-test wants fresh ones). */
  clearCache(hostname?: string): void {
    if (hostname) this.cache.delete(hostname.toLowerCase());
    else this.cache.clear();
  }

  /** Step 3: fetch and validate /.well-known/matrix/server, with the spec's caching rules. */
  async wellKnown(hostname: string, opts: { fresh?: boolean } = {}): Promise<{ server: string } | { error: string }> {
    const key = hostname.toLowerCase();
    const now = this.deps.now();
    const cached = this.cache.get(key);
    if (!opts.fresh && cached && cached.expires > now) return cached.result;
    let result: { server: string } | { error: string };
    let ttl: number;
    try {
      const r = await this.deps.fetchWellKnown(hostname);
      result = validateWellKnown(r);
      ttl = 'error' in result ? 0 : wellKnownCacheMs(r.headers, now);
    } catch (e) {
      result = { error: `could not fetch https://${hostname}/.well-known/matrix/server: ${(e as Error).message}` };
      ttl = 0;
    }
    let failures = 0;
    if ('error' in result) {
      // Errors are cached for up to an hour, backing off exponentially on repeated failures.
      failures = (cached && 'error' in cached.result ? cached.failures : 0) + 1;
      ttl = Math.min(3600_000, 120_000 * 2 ** (failures - 1));
    }
    this.cache.set(key, { result, expires: now + ttl, failures });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return result;
  }

  async resolve(serverName: string, opts: { fresh?: boolean } = {}): Promise<ResolvedServer> {
    const parsed = parseServerName(serverName);
    if (!parsed) throw new DiscoveryError(`'${serverName}' is not a valid server name`);
    const trace: string[] = [];
    const { hostname, port } = parsed;

    // 1. IP literal: that address, the given port or 8448; Host is the server name.
    if (parsed.isIp) {
      const ip = hostname.replace(/^\[|\]$/g, '');
      trace.push(`${serverName} is an IP address: connect to it on port ${port ?? 8448}`);
      return { serverName, host: ip, port: port ?? 8448, addresses: [ip], hostHeader: serverName, tlsName: ip, via: 'ip-literal', trace };
    }
    // 2. Explicit port: resolve the hostname; Host is the server name with port.
    if (port !== undefined) {
      const addresses = await this.addressesOrThrow(hostname, trace);
      trace.push(`${serverName} has an explicit port: connect to ${hostname}:${port}`);
      return { serverName, host: hostname, port, addresses, hostHeader: serverName, tlsName: hostname, via: 'explicit-port', trace };
    }
    // 3. /.well-known/matrix/server on the hostname.
    const wk = await this.wellKnown(hostname, opts);
    if ('server' in wk) {
      trace.push(`https://${hostname}/.well-known/matrix/server delegates to ${wk.server}`);
      const d = parseServerName(wk.server)!;
      // 3.1 Delegated IP literal.
      if (d.isIp) {
        const ip = d.hostname.replace(/^\[|\]$/g, '');
        return { serverName, host: ip, port: d.port ?? 8448, addresses: [ip], hostHeader: wk.server, tlsName: ip, via: 'well-known', wellKnown: wk, trace };
      }
      // 3.2 Delegated hostname with port.
      if (d.port !== undefined) {
        const addresses = await this.addressesOrThrow(d.hostname, trace);
        return { serverName, host: d.hostname, port: d.port, addresses, hostHeader: wk.server, tlsName: d.hostname, via: 'well-known', wellKnown: wk, trace };
      }
      // 3.3 / 3.4 SRV on the delegated hostname (_matrix-fed, then the deprecated _matrix).
      const srv = await this.srv(d.hostname, trace);
      if (srv) {
        return { serverName, ...srv.target, hostHeader: d.hostname, tlsName: d.hostname, via: 'well-known+srv', wellKnown: wk, trace };
      }
      // 3.5 Delegated hostname on 8448.
      const addresses = await this.addressesOrThrow(d.hostname, trace);
      trace.push(`no SRV record for ${d.hostname}: use port 8448`);
      return { serverName, host: d.hostname, port: 8448, addresses, hostHeader: d.hostname, tlsName: d.hostname, via: 'well-known+8448', wellKnown: wk, trace };
    }
    trace.push(`no usable /.well-known/matrix/server on ${hostname}: ${wk.error}`);
    // 4 / 5. SRV on the hostname; Host and certificate stay the hostname.
    const srv = await this.srv(hostname, trace);
    if (srv) {
      return { serverName, ...srv.target, hostHeader: hostname, tlsName: hostname, via: srv.legacy ? 'srv-legacy' : 'srv', wellKnown: wk, trace };
    }
    // 6. The hostname on port 8448.
    const addresses = await this.addressesOrThrow(hostname, trace);
    trace.push(`no SRV record for ${hostname}: use port 8448`);
    return { serverName, host: hostname, port: 8448, addresses, hostHeader: hostname, tlsName: hostname, via: 'default-8448', wellKnown: wk, trace };
  }

  private async srv(hostname: string, trace: string[]): Promise<{ target: { host: string; port: number; addresses: string[] }; legacy: boolean } | undefined> {
    for (const [prefix, legacy] of [['_matrix-fed._tcp.', false], ['_matrix._tcp.', true]] as const) {
      const records = orderSrv(await this.deps.srv(prefix + hostname)).filter((r) => r.name !== '.' && r.name !== '');
      for (const r of records) {
        const addresses = await this.deps.addresses(r.name);
        trace.push(`SRV ${prefix}${hostname} → ${r.name}:${r.port}${addresses.length ? '' : ' (no address)'}`);
        if (addresses.length) return { target: { host: r.name, port: r.port, addresses }, legacy };
      }
    }
    return undefined;
  }

  private async addressesOrThrow(host: string, trace: string[]): Promise<string[]> {
    const addresses = await this.deps.addresses(host);
    if (addresses.length === 0) {
      trace.push(`${host} has no A or AAAA record`);
      throw new DiscoveryError(`${host} has no A or AAAA record`);
    }
    trace.push(`${host} resolves to ${addresses.join(', ')}`);
    return addresses;
  }
}

/** Schema: `{"m.server": "<hostname>[:<port>]"}` with a valid server name; anything else is an error. */
export function validateWellKnown(r: WellKnownResponse): { server: string } | { error: string } {
  if (r.status !== 200) return { error: `it answered HTTP ${r.status}` };
  let body: unknown;
  try {
    body = JSON.parse(r.body);
  } catch {
    return { error: 'the answer is not JSON' };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { error: 'the answer is not a JSON object' };
  const server = (body as Record<string, unknown>)['m.server'];
  if (typeof server !== 'string') return { error: 'the answer has no "m.server" string' };
  if (!parseServerName(server)) return { error: `"m.server" is not a valid server name: ${JSON.stringify(server)}` };
  return { server };
}
