/**
 * HTTP and HTTPS listeners. They are bound before the database is opened so that a port in
 * use fails the start before anything is written; requests that arrive before the app is
 * ready wait for it. HTTPS listeners take their certificate from a TlsProvider, which can swap
 * it at runtime (a renewed certificate is served without a restart).
 */
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { parseListen } from '../config/loader.ts';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface TlsProvider {
  /** The key and certificate chain to serve now. */
  current(): tls.SecureContextOptions;
  /** Called with new options whenever the certificate changes. */
  onChange(listener: (opts: tls.SecureContextOptions) => void): void;
}

export interface Listener {
  kind: 'http' | 'https';
  /** As configured, e.g. 127.0.0.1:8008. */
  spec: string;
  server: http.Server;
  /** The bound address (port resolved when 0 was asked). */
  address(): { host: string; port: number };
}

export class ListenError extends Error {}

function bind(server: http.Server, spec: string, kind: string): Promise<void> {
  const { host, port } = parseListen(spec)!;
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'address already in use (is another Hearth or web server running?)'
          : err.code === 'EACCES'
            ? 'permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)'
            : err.code === 'EADDRNOTAVAIL'
              ? 'no such local address'
              : err.message;
      reject(new ListenError(`cannot listen (${kind}) on ${spec}: ${why}`));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export interface ListenOptions {
  listen: string[];
  listenTls: string[];
  tls?: TlsProvider;
  /** Called for each request; may be replaced later with setHandler. */
  handler: Handler;
}

export interface Listeners {
  all: Listener[];
  setHandler(h: Handler): void;
  /** Stops accepting; resolves when every connection has closed (forcing after `graceMs`). */
  close(graceMs: number): Promise<void>;
}

export async function startListeners(o: ListenOptions): Promise<Listeners> {
  let handler = o.handler;
  const dispatch: Handler = (req, res) => handler(req, res);
  const all: Listener[] = [];
  const closeAll = () => Promise.all(all.map((l) => new Promise((r) => l.server.close(() => r(undefined)))));
  try {
    for (const spec of o.listen) {
      const server = http.createServer({ keepAliveTimeout: 65_000 }, dispatch);
      await bind(server, spec, 'http');
      all.push(listener('http', spec, server));
    }
    if (o.listenTls.length > 0) {
      if (!o.tls) throw new ListenError('HTTPS listeners need a certificate: give --tls-cert and --tls-key');
      for (const spec of o.listenTls) {
        const server = https.createServer({ ...o.tls.current(), keepAliveTimeout: 65_000 }, dispatch);
        o.tls.onChange((opts) => server.setSecureContext(opts));
        await bind(server, spec, 'https');
        all.push(listener('https', spec, server));
      }
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  return {
    all,
    setHandler: (h) => {
      handler = h;
    },
    close: async (graceMs) => {
      const closed = closeAll();
      for (const l of all) l.server.closeIdleConnections();
      const timer = setTimeout(() => all.forEach((l) => l.server.closeAllConnections()), graceMs);
      // Keep-alive connections that finish their request become idle: close them as they do.
      const idleSweep = setInterval(() => all.forEach((l) => l.server.closeIdleConnections()), 50);
      await closed;
      clearTimeout(timer);
      clearInterval(idleSweep);
    },
  };
}

function listener(kind: 'http' | 'https', spec: string, server: http.Server): Listener {
  return {
    kind,
    spec,
    server,
    address: () => {
      const a = server.address() as AddressInfo;
      return { host: a.address, port: a.port };
    },
  };
}
