/**
 * A small HTTP(S) GET for the setup checks and discovery: our own DNS resolver, an explicit
 * list of trusted CAs, a hard timeout and size cap, optional redirects — and errors that say
 * at which stage it failed (DNS, connect, TLS, HTTP) so the wizard can explain the fix.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import type { DnsResolver } from './resolver.ts';
import { lookupVia } from './resolver.ts';

export type NetStage = 'dns' | 'connect' | 'tls' | 'http' | 'timeout';

export class NetError extends Error {
  constructor(
    readonly stage: NetStage,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface GetOptions {
  resolver?: DnsResolver;
  /** Connect to this IP instead of resolving the URL's host (the URL's host still names TLS and Host). */
  connectAddress?: string;
  /** Trusted CA certificates (PEM). Default: Node's bundled roots plus NODE_EXTRA_CA_CERTS. */
  ca?: string[];
  /** The name the certificate must be valid for. Default: the URL's host. */
  tlsName?: string;
  hostHeader?: string;
  timeoutMs?: number;
  maxBytes?: number;
  /** How many 30x redirects to follow (loops are refused). */
  followRedirects?: number;
  headers?: Record<string, string>;
}

export interface GetResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered, after redirects. */
  url: string;
  redirects: string[];
  /** The server's certificate (HTTPS only). */
  certificate?: tls.PeerCertificate;
}

/** Node's roots plus the PEM files given (e.g. federation_ca, a test CA). */
export function caBundle(...files: (string | null | undefined)[]): string[] {
  const extra = files.filter((f): f is string => !!f).map((f) => readFileSync(f, 'utf8'));
  const env = process.env.NODE_EXTRA_CA_CERTS;
  let envCa: string[] = [];
  try {
    if (env) envCa = [readFileSync(env, 'utf8')];
  } catch {
    // unreadable NODE_EXTRA_CA_CERTS: Node itself warns about it
  }
  return [...tls.rootCertificates, ...envCa, ...extra];
}

const TLS_CODES: Record<string, string> = {
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate is for a different name',
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the certificate chain ends in an untrusted self-signed certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate is not signed by a trusted authority (or the chain is incomplete)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is not signed by a trusted authority (or the chain is incomplete)',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate chain is incomplete',
};

export function classify(e: NodeJS.ErrnoException): NetError {
  const code = e.code ?? 'EUNKNOWN';
  if (code in TLS_CODES) return new NetError('tls', code, TLS_CODES[code]!);
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /ssl|tls|certificate/i.test(e.message)) {
    return new NetError('tls', code, `TLS failed: ${e.message}`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') return new NetError('dns', code, 'the name does not resolve to an address');
  if (code === 'ECONNREFUSED') return new NetError('connect', code, 'the connection was refused (nothing listens on that port)');
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new NetError('connect', code, 'the address cannot be reached from here');
  if (code === 'ECONNRESET') return new NetError('connect', code, 'the connection was reset');
  if (code === 'ETIMEDOUT') return new NetError('timeout', code, 'no answer in time');
  return new NetError('connect', code, e.message);
}

function once(url: URL, o: GetOptions, deadline: number): Promise<GetResult> {
  const isHttps = url.protocol === 'https:';
  const maxBytes = o.maxBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const options: https.RequestOptions = {
      method: 'GET',
      host: o.connectAddress ?? host,
      port: url.port ? Number(url.port) : isHttps ? 443 : 80,
      path: url.pathname + url.search,
      headers: { host: o.hostHeader ?? url.host, 'user-agent': 'Hearth', accept: 'application/json, */*', ...o.headers },
      agent: false,
      timeout: Math.max(1, deadline - Date.now()),
    };
    if (!o.connectAddress && o.resolver) options.lookup = lookupVia(o.resolver) as unknown as https.RequestOptions['lookup'];
    if (isHttps) {
      const name = o.tlsName ?? host;
      options.servername = isIP(name) ? undefined : name;
      if (o.ca) options.ca = o.ca;
      options.checkServerIdentity = (_h, cert) => tls.checkServerIdentity(name, cert);
    }
    const req = (isHttps ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const certificate = isHttps ? (res.socket as tls.TLSSocket).getPeerCertificate?.() : undefined;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          req.destroy(new NetError('http', 'ETOOBIG', `the answer is larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), url: url.toString(), redirects: [], certificate }),
      );
      res.on('error', (e) => reject(e instanceof NetError ? e : classify(e)));
    });
    req.on('timeout', () => req.destroy(new NetError('timeout', 'ETIMEDOUT', 'no answer in time')));
    req.on('error', (e) => reject(e instanceof NetError ? e : classify(e as NodeJS.ErrnoException)));
    req.end();
  });
}

/** GET `url`, following up to `followRedirects` redirects (never in a loop). */
export async function httpGet(url: string, o: GetOptions = {}): Promise<GetResult> {
  const deadline = Date.now() + (o.timeoutMs ?? 8000);
  const seen = new Set<string>();
  const redirects: string[] = [];
  let current = new URL(url);
  for (;;) {
    seen.add(current.toString());
    const r = await once(current, redirects.length ? { ...o, connectAddress: undefined, hostHeader: undefined, tlsName: undefined } : o, deadline);
    const loc = r.headers.location;
    if (r.status >= 300 && r.status < 400 && loc && redirects.length < (o.followRedirects ?? 0)) {
      const next = new URL(loc, current);
      if (seen.has(next.toString())) throw new NetError('http', 'EREDIRECTLOOP', `redirect loop at ${next}`);
      redirects.push(next.toString());
      current = next;
      continue;
    }
    return { ...r, redirects };
  }
}
