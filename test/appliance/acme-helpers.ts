/** Shared by the certificate tests: Hearth wired to Pebble, a TLS peek, a polling helper. */
import tls from 'node:tls';
import https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { freePort, startPebble, type Pebble } from '../helpers/pebble.ts';
import type { Config } from '../../server/config/schema.ts';

export interface AcmeRig {
  pebble: Pebble;
  httpPort: number;
  tlsPort: number;
  /** Pebble's issuing root plus the test CA (for the base domain's own web server). */
  trustFile: string;
  start(overrides?: Partial<Config>, opts?: { dataDir?: string }): Promise<TestServer>;
  stop(): Promise<void>;
}

export async function acmeRig(o: { validitySeconds?: number } = {}): Promise<AcmeRig> {
  const httpPort = await freePort();
  const tlsPort = await freePort();
  const pebble = await startPebble({ httpPort, validitySeconds: o.validitySeconds });
  const trustFile = join(pebble.dir, 'trust.pem');
  writeFileSync(trustFile, readFileSync(pebble.rootFile, 'utf8') + '\n' + readFileSync(pebble.apiCaFile, 'utf8'));
  const servers: TestServer[] = [];
  return {
    pebble,
    httpPort,
    tlsPort,
    trustFile,
    async start(overrides = {}, opts = {}) {
      const srv = await startTestServer(
        {
          server_name: null,
          listen: [`127.0.0.1:${httpPort}`],
          listen_tls: [`127.0.0.1:${tlsPort}`],
          dns_servers: [pebble.dnsServer],
          acme_directory_url: pebble.directoryUrl,
          acme_staging_directory_url: pebble.directoryUrl,
          acme_ca_file: pebble.apiCaFile,
          acme_http_port: httpPort,
          federation_ca: trustFile,
          public_ip_url: 'off',
          ...overrides,
        },
        opts,
      );
      servers.push(srv);
      return srv;
    },
    async stop() {
      for (const s of servers) await s.cleanup().catch(() => undefined);
      await pebble.stop();
    },
  };
}

/** Connects with TLS and returns the certificate served for `servername`, and whether `ca` trusts it. */
export function peekCert(port: number, servername: string, ca?: string): Promise<{ cert: tls.PeerCertificate; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false }, () => {
      const cert = sock.getPeerCertificate();
      const authorized = sock.authorized && !tls.checkServerIdentity(servername, cert);
      resolve({ cert, authorized, error: sock.authorizationError ? String(sock.authorizationError) : undefined });
      sock.end();
    });
    sock.on('error', reject);
  });
}

export async function until<T>(fn: () => Promise<T | undefined | null | false>, what: string, ms = 30_000, every = 150): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export async function api(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(base + path, {
    method,
    redirect: 'manual',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { text };
  }
  return { status: r.status, headers: r.headers, json };
}

/** Serves the base domain's web server on ADDRESS:443 with a certificate from the test CA. */
export async function baseDomainServer(pebble: Pebble, address: string, name: string, files: Record<string, { body: string; headers?: Record<string, string> }>) {
  const leaf = pebble.ca.issue([name], `base-${name}`);
  const server = https.createServer({ cert: readFileSync(leaf.certFile), key: readFileSync(leaf.keyFile) }, (req, res) => {
    const f = files[req.url ?? ''];
    if (!f) {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<h1>Not found</h1>');
      return;
    }
    res.writeHead(200, f.headers ?? {});
    res.end(f.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(443, address, () => resolve());
  });
  return { files, close: () => new Promise<void>((r) => server.close(() => r())) };
}
