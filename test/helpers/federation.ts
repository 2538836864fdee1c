/**
 * startFederation(n): n real Hearth instances on loopback that federate with each other.
 * Each is named `localhost:PORT` (an explicit port: no DNS or .well-known needed), serves HTTPS
 * on that port with a certificate from a throwaway CA made with openssl for this run, trusts
 * that CA through `federation_ca`, and allows private addresses (`federation_allow_private`).
 * Each also has a plain-HTTP listener for the test's clients (`baseUrl`).
 * startTwoServers() / startTwoServerRoom(): the start most two-server tests share (alice on A,
 * bob on B, and for the latter a room of alice's that bob has joined).
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Config } from '../../server/config/schema.ts';
import { startTestServer, tempDir, type TestServer } from './server.ts';
import { createRoom, fedUser, join as joinRoom, stateEvent, waitFor, type FedUser } from './fed-clients.ts';

export interface FedCerts {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A CA and a `localhost`/127.0.0.1 leaf certificate it signed (RSA 2048, valid 2 days). */
export function makeTestCa(): FedCerts {
  const dir = tempDir('hearth-fedca-');
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Hearth test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'leaf.ext');
  return { dir, caFile: join(dir, 'ca.pem'), certFile: join(dir, 'leaf.pem'), keyFile: join(dir, 'leaf.key') };
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * What makes `localhost:PORT` a federating server in a test or bench: HTTPS on that port with the
 * test certificate, trust in the test CA, private addresses allowed and no key notaries; plain
 * HTTP on an ephemeral port for clients; open registration without rate limits.
 */
export function fedServerConfig(port: number, certs: FedCerts): Partial<Config> {
  return {
    server_name: `localhost:${port}`,
    listen: ['127.0.0.1:0'],
    listen_tls: [`127.0.0.1:${port}`],
    tls_cert: certs.certFile,
    tls_key: certs.keyFile,
    federation_ca: certs.caFile,
    federation_allow_private: true,
    federation_key_notaries: [],
    open_registration: true,
    rate_limits: false,
  };
}

export interface FedServer {
  /** `localhost:PORT`: the server name (and the federation address). */
  name: string;
  port: number;
  /** Plain-HTTP base URL for test clients. */
  baseUrl: string;
  dataDir: string;
  test: TestServer;
  /** Stops the instance (its data directory stays). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory (after stop()). */
  start(): Promise<void>;
}

export interface Federation {
  servers: FedServer[];
  certs: FedCerts;
  cleanup(): Promise<void>;
}

/** `opts.certs`: reuse another federation's CA and certificate, so the two sets trust each other. */
export async function startFederation(
  n: number,
  overrides: Partial<Config> | ((i: number) => Partial<Config>) = {},
  opts: { certs?: FedCerts } = {},
): Promise<Federation> {
  const certs = opts.certs ?? makeTestCa();
  const ownCerts = !opts.certs;
  const servers: FedServer[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      const name = `localhost:${port}`;
      const extra = typeof overrides === 'function' ? overrides(i) : overrides;
      const config: Partial<Config> = { ...fedServerConfig(port, certs), federation_backoff_max_ms: 1500, ...extra };
      const first = await startTestServer(config);
      const fs: FedServer = {
        name,
        port,
        baseUrl: first.baseUrl,
        dataDir: first.dataDir,
        test: first,
        stop: () => fs.test.stop(),
        start: async () => {
          // The port was ours a moment ago; retry briefly in case the OS holds it.
          for (let attempt = 0; ; attempt++) {
            try {
              fs.test = await startTestServer(config, { dataDir: fs.dataDir });
              fs.baseUrl = fs.test.baseUrl;
              return;
            } catch (e) {
              if (attempt >= 20) throw e;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        },
      };
      servers.push(fs);
    }
  } catch (e) {
    await Promise.all(servers.map((s) => s.test.cleanup()));
    if (ownCerts) rmSync(certs.dir, { recursive: true, force: true });
    throw e;
  }
  return {
    servers,
    certs,
    cleanup: async () => {
      await Promise.all(servers.map((s) => s.test.cleanup()));
      if (ownCerts) rmSync(certs.dir, { recursive: true, force: true });
    },
  };
}

export interface TwoServers {
  fed: Federation;
  /** On servers[0] ("A"). */
  alice: FedUser;
  /** On servers[1] ("B"). */
  bob: FedUser;
}

/** Two federating servers with alice on the first and bob on the second. */
export async function startTwoServers(): Promise<TwoServers> {
  const fed = await startFederation(2);
  try {
    const alice = await fedUser(fed.servers[0]!, 'alice');
    const bob = await fedUser(fed.servers[1]!, 'bob');
    return { fed, alice, bob };
  } catch (e) {
    await fed.cleanup();
    throw e;
  }
}

export interface TwoServerRoom extends TwoServers {
  roomId: string;
}

/**
 * startTwoServers() and a room alice made that bob joined through A; returns once A has his join.
 * `room` is createRoom's body (a function of bob where the body names him); `beforeJoin` runs
 * between the two, e.g. to leave history that B will have to fetch from A.
 */
export async function startTwoServerRoom(
  opts: {
    room?: Record<string, unknown> | ((bob: FedUser) => Record<string, unknown>);
    beforeJoin?: (alice: FedUser, roomId: string) => Promise<void>;
  } = {},
): Promise<TwoServerRoom> {
  const two = await startTwoServers();
  const { fed, alice, bob } = two;
  try {
    const roomId = await createRoom(alice, typeof opts.room === 'function' ? opts.room(bob) : opts.room);
    await opts.beforeJoin?.(alice, roomId);
    await joinRoom(bob, roomId, [fed.servers[0]!.name]);
    await waitFor('A sees bob', async () => (await stateEvent(alice, roomId, 'm.room.member', bob.userId))?.membership === 'join');
    return { ...two, roomId };
  } catch (e) {
    await fed.cleanup();
    throw e;
  }
}
