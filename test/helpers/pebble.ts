/**
 * startPebble(): a real ACME server (Pebble) and its fake DNS (pebble-challtestsrv) on free
 * loopback ports, for certificate tests. Pebble's API certificate comes from a throwaway CA
 * made with openssl at test time (give `apiCaFile` to Hearth as acme_ca_file); the CA that
 * signs issued certificates changes every start (`rootFile`, fetched from the management API,
 * goes to Hearth as federation_ca so the self-test trusts our own new certificate).
 * challtestsrv answers A queries with 127.0.0.1 for every name unless told otherwise.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestCa {
  dir: string;
  caFile: string;
  caKey: string;
  /** Issues a leaf certificate for `names` (DNS names or IPs) signed by this CA. */
  issue(names: string[], base: string): { certFile: string; keyFile: string };
}

export function makeTestCa(dir: string, cn = 'Hearth test CA'): TestCa {
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caFile, '-subj', `/CN=${cn}`, '-days', '2'], { stdio: 'pipe' });
  return {
    dir,
    caFile,
    caKey,
    issue(names, base) {
      const keyFile = join(dir, `${base}.key`);
      const csr = join(dir, `${base}.csr`);
      const certFile = join(dir, `${base}.pem`);
      const ext = join(dir, `${base}.ext`);
      const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
      execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${names[0]}`], { stdio: 'pipe' });
      execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext], { stdio: 'pipe' });
      return { certFile, keyFile };
    },
  };
}

export interface Pebble {
  directoryUrl: string;
  /** CA that signed Pebble's own HTTPS certificate (for acme_ca_file). */
  apiCaFile: string;
  /** Root that signs the certificates Pebble issues (for federation_ca). */
  rootFile: string;
  /** DNS server (challtestsrv) as IP:PORT, for Hearth's dns_servers. */
  dnsServer: string;
  dir: string;
  ca: TestCa;
  challtest: {
    addA(host: string, addresses: string[]): Promise<void>;
    clearA(host: string): Promise<void>;
    setTxt(host: string, value: string): Promise<void>;
    clearTxt(host: string): Promise<void>;
  };
  stop(): Promise<void>;
}

function getInsecure(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
  });
}

async function waitFor(fn: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start: ${String(last)}`);
}

function stopChild(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
    setTimeout(() => c.kill('SIGKILL'), 3000).unref();
  });
}

export async function startPebble(o: { httpPort: number; validitySeconds?: number }): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-pebble-'));
  const ca = makeTestCa(dir, 'Pebble API test CA');
  const leaf = ca.issue(['localhost', '127.0.0.1'], 'pebble-api');
  const [acmePort, mgmtPort, tlsPort, dnsPort, ctMgmtPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: leaf.certFile,
      privateKey: leaf.keyFile,
      httpPort: o.httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(o.validitySeconds ? { certificateValidityPeriod: o.validitySeconds } : {}),
    },
  };
  const configFile = join(dir, 'pebble.json');
  writeFileSync(configFile, JSON.stringify(config));
  const logs: string[] = [];
  const keep = (c: ChildProcess) => {
    c.stdout?.on('data', (d) => logs.push(String(d)));
    c.stderr?.on('data', (d) => logs.push(String(d)));
  };
  const challtestsrv = spawn(
    'pebble-challtestsrv',
    ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${ctMgmtPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  keep(challtestsrv);
  const pebble = spawn('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
  });
  keep(pebble);
  const ct = async (path: string, body: unknown) => {
    const r = await fetch(`http://127.0.0.1:${ctMgmtPort}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`challtestsrv ${path}: HTTP ${r.status}`);
  };
  const stop = async () => {
    await Promise.all([stopChild(pebble), stopChild(challtestsrv)]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${ctMgmtPort}/`).catch(() => null)) !== null, `pebble-challtestsrv (${logs.join('')})`);
    await waitFor(async () => (await getInsecure(`https://127.0.0.1:${acmePort}/dir`)).status === 200, `pebble (${logs.join('')})`);
    const root = await getInsecure(`https://127.0.0.1:${mgmtPort}/roots/0`);
    const rootFile = join(dir, 'pebble-root.pem');
    writeFileSync(rootFile, root.body);
    return {
      directoryUrl: `https://localhost:${acmePort}/dir`,
      apiCaFile: ca.caFile,
      rootFile,
      dnsServer: `127.0.0.1:${dnsPort}`,
      dir,
      ca,
      challtest: {
        addA: (host, addresses) => ct('/add-a', { host: host.replace(/\.?$/, '.'), addresses }),
        clearA: (host) => ct('/clear-a', { host: host.replace(/\.?$/, '.') }),
        setTxt: (host, value) => ct('/set-txt', { host: host.replace(/\.?$/, '.'), value }),
        clearTxt: (host) => ct('/clear-txt', { host: host.replace(/\.?$/, '.') }),
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
