/**
 * Outbound federation requests: resolve the destination (discovery.ts, spec "Resolving server
 * names"), connect over TLS validating the certificate against the name discovery says (SNI
 * unless it is an IP), sign the request with X-Matrix, and read a size-capped JSON answer.
 *
 * Every connection goes through the SSRF guard (services/net/ssrf-guard.ts) unless
 * `federation_allow_private` is set: a server name resolving to a private address is refused.
 */
import https from 'node:https';
import tls from 'node:tls';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../logging.ts';
import type { SigningKey } from '../../protocol/signing.ts';
import { guardedRequest, SsrfError, type GuardOptions } from '../net/ssrf-guard.ts';
import { DiscoveryError, type ResolvedServer, type ServerDiscovery } from './discovery.ts';
import { authorizationHeader } from './x-matrix.ts';

export class FederationError extends Error {
  constructor(
    message: string,
    /** HTTP status of the remote answer; 0 when no answer arrived (network, TLS, timeout). */
    readonly status: number,
    /** The remote's Matrix errcode, when it sent one. */
    readonly errcode?: string,
    readonly body?: unknown,
  ) {
    super(message);
  }

  /** No answer at all or a server error: the destination is down, back off. */
  get unreachable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

export interface RequestOptions {
  /** JSON body (PUT/POST). */
  body?: unknown;
  /** Query parameters, appended to the path (and covered by the signature). */
  query?: Record<string, string | number | boolean | string[] | undefined>;
  timeoutMs?: number;
  /** Largest answer accepted. */
  maxBytes?: number;
  signal?: AbortSignal;
  /** Do not sign (GET /_matrix/key/v2/server and friends). */
  unsigned?: boolean;
}

export interface ClientDeps {
  serverName: () => string;
  signingKey: () => SigningKey;
  discovery: ServerDiscovery;
  /** Trusted CAs (PEM): the system's plus federation_ca. */
  ca: string[];
  guard: GuardOptions;
  log: Logger;
}

const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;

export function buildPath(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) qs.append(k, x);
    else qs.append(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

export class FederationClient {
  private readonly agent = new https.Agent({ keepAlive: true, maxSockets: 8, maxTotalSockets: 64, keepAliveMsecs: 30_000 });
  /**
   * Built once: passing `ca` per request makes Node parse the whole CA bundle (~150 certificates)
   * for every new connection, ~100 ms of CPU each.
   */
  private secureContext: tls.SecureContext | undefined;

  constructor(private readonly d: ClientDeps) {}

  private context(): tls.SecureContext {
    this.secureContext ??= tls.createSecureContext({ ca: this.d.ca });
    return this.secureContext;
  }

  close(): void {
    this.agent.destroy();
  }

  /** A JSON request to another server. Throws FederationError for non-2xx answers and network failures. */
  async request<T = unknown>(destination: string, method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.open(destination, method, path, o);
    const body = await readBody(res, o.maxBytes ?? DEFAULT_MAX_BYTES).catch((e: Error) => {
      throw new FederationError(`${destination}: ${e.message}`, 0);
    });
    let parsed: unknown;
    try {
      parsed = body.length ? JSON.parse(body.toString('utf8')) : undefined;
    } catch {
      parsed = undefined;
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const errcode = typeof (parsed as { errcode?: unknown })?.errcode === 'string' ? (parsed as { errcode: string }).errcode : undefined;
      const msg = typeof (parsed as { error?: unknown })?.error === 'string' ? (parsed as { error: string }).error : `HTTP ${status}`;
      throw new FederationError(`${destination} ${method} ${path.split('?')[0]}: ${status} ${errcode ?? ''} ${msg}`.trim(), status, errcode, parsed);
    }
    if (parsed === undefined || typeof parsed !== 'object' || parsed === null) {
      throw new FederationError(`${destination} ${method} ${path.split('?')[0]}: the answer is not a JSON object`, status);
    }
    return parsed as T;
  }

  /**
   * Starts a request and resolves with the response (any status) once its headers arrive; the
   * caller consumes the body (media downloads stream it). Tries each resolved address in turn.
   */
  async open(destination: string, method: string, path: string, o: RequestOptions = {}): Promise<IncomingMessage> {
    if (destination === this.d.serverName()) throw new FederationError('refusing to send a federation request to ourselves', 0);
    let resolved: ResolvedServer;
    try {
      resolved = await this.d.discovery.resolve(destination);
    } catch (e) {
      throw new FederationError(`${destination}: ${e instanceof DiscoveryError ? e.message : (e as Error).message}`, 0);
    }
    const fullPath = buildPath(path, o.query);
    const headers: Record<string, string> = { host: resolved.hostHeader, 'user-agent': 'Hearth', accept: 'application/json' };
    let payload: Buffer | undefined;
    if (o.body !== undefined) {
      payload = Buffer.from(JSON.stringify(o.body));
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (!o.unsigned) {
      headers.authorization = authorizationHeader(method, fullPath, this.d.serverName(), destination, this.d.signingKey(), o.body);
    }
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT;
    let lastError: Error = new FederationError(`${destination}: no address to connect to`, 0);
    // IPv4 first: loopback test setups listen on 127.0.0.1 and `localhost` may list ::1 too.
    const addresses = [...resolved.addresses].sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')));
    for (const address of addresses) {
      try {
        return await this.attempt(address, resolved, method, fullPath, headers, payload, timeoutMs, o.signal);
      } catch (e) {
        lastError = e as Error;
        const code = (e as NodeJS.ErrnoException).code;
        // Only connection-level failures move on to the next address.
        if (code !== 'ECONNREFUSED' && code !== 'EHOSTUNREACH' && code !== 'ENETUNREACH' && code !== 'EADDRNOTAVAIL' && !(e instanceof SsrfError)) break;
      }
    }
    if (lastError instanceof FederationError) throw lastError;
    throw new FederationError(`${destination}: ${describeNetError(lastError)}`, 0);
  }

  private attempt(
    address: string,
    r: ResolvedServer,
    method: string,
    path: string,
    headers: Record<string, string>,
    payload: Buffer | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    const host = address.includes(':') ? `[${address}]` : address;
    const url = new URL(`https://${host}:${r.port}${path}`);
    return new Promise((resolve, reject) => {
      const name = r.tlsName;
      const opts = {
        method,
        headers,
        agent: this.agent,
        secureContext: this.context(),
        // SNI names the certificate we expect, except for IP literals (spec "TLS").
        servername: isIP(name) ? undefined : name,
        checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(name, cert),
        timeout: timeoutMs,
        signal,
      };
      let req;
      try {
        req = guardedRequest(url, opts as Parameters<typeof guardedRequest>[1], this.d.guard);
      } catch (e) {
        reject(e);
        return;
      }
      const timer = setTimeout(() => req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })), timeoutMs);
      timer.unref();
      req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        // The whole exchange must finish in time, including the body.
        const bodyTimer = setTimeout(() => res.destroy(Object.assign(new Error('answer body too slow'), { code: 'ETIMEDOUT' })), timeoutMs);
        bodyTimer.unref();
        res.once('close', () => clearTimeout(bodyTimer));
        resolve(res);
      });
      req.end(payload);
    });
  }
}

function describeNetError(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (e instanceof SsrfError) return e.message;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'the certificate is for a different name';
  if (code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT') {
    return 'the certificate is not signed by a trusted authority';
  }
  return `${code ?? 'error'}: ${e.message}`;
}

/** Reads a response body up to `maxBytes` (larger answers fail). */
export function readBody(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (declared > maxBytes) {
      reject(new Error(`the answer is larger than ${maxBytes} bytes`));
      res.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        // Settle first: destroying the response emits 'aborted' synchronously.
        reject(new Error(`the answer is larger than ${maxBytes} bytes`));
        res.destroy();
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the answer was cut off')));
  });
}
