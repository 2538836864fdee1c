/**
 * The outbound-request guard (server/services/net/ssrf-guard.ts): address classes, the
 * allowlist, and real connections to loopback refused before any byte is sent — for IP
 * literals, names resolving to loopback, redirects, and a name that re-resolves (DNS rebinding).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type dns from 'node:dns';
import { SsrfError, addressChecker, classifyAddress, guardedFetch, guardedRequest } from '../../../server/services/net/ssrf-guard.ts';

let server: http.Server;
let port = 0;
let hits = 0;

before(async () => {
  server = http.createServer((req, res) => {
    hits++;
    if (req.url === '/to-v6-loopback') {
      res.writeHead(302, { location: `http://[::1]:${port}/` });
      return res.end();
    }
    res.end('reached');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('address classes: private, loopback, link-local, CGNAT, multicast, unspecified and embedded IPv4 are refused', () => {
  const refused = [
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '100.127.255.254', '0.0.0.0', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1',
    '198.18.0.1', '192.0.2.5', '::', '::1', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd12:3456::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::127.0.0.1', '64:ff9b::a00:1', '2002:c0a8:101::1', '2001:db8::1', 'fec0::1',
  ];
  for (const ip of refused) assert.notEqual(classifyAddress(ip), null, `${ip} should be refused`);
  const allowed = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '93.184.216.34', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2a00:1450::1'];
  for (const ip of allowed) assert.equal(classifyAddress(ip), null, `${ip} should be allowed`);
  assert.equal(classifyAddress('169.254.169.254'), 'link-local');
  assert.equal(classifyAddress('100.64.0.1'), 'carrier-grade NAT');
  assert.match(classifyAddress('::ffff:192.168.0.1')!, /private \(embedded IPv4\)/);
});

test('allowlist entries (addresses and CIDR ranges) and allowPrivate open refused ranges; bad entries throw', () => {
  const check = addressChecker({ allowlist: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'] });
  assert.equal(check('127.0.0.1'), null);
  assert.equal(check('::ffff:127.0.0.1'), null, 'IPv4-mapped form matches an IPv4 entry');
  assert.notEqual(check('127.0.0.2'), null);
  assert.equal(check('10.200.3.4'), null);
  assert.notEqual(check('192.168.1.1'), null);
  assert.equal(check('fd12::1'), null);
  assert.equal(addressChecker({ allowPrivate: true })('192.168.1.1'), null);
  assert.throws(() => addressChecker({ allowlist: ['not-an-ip'] }));
  assert.throws(() => addressChecker({ allowlist: ['10.0.0.0/33'] }));
});

function get(url: string, guard: Parameters<typeof guardedRequest>[2] = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = guardedRequest(new URL(url), { method: 'GET' }, guard);
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.end();
  });
}

test('requests to loopback literals and to names resolving to loopback are refused before connecting', async () => {
  const before = hits;
  for (const url of [`http://127.0.0.1:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `http://localhost:${port}/`, `http://[::1]:${port}/`]) {
    await assert.rejects(get(url), (e: unknown) => e instanceof SsrfError, url);
  }
  assert.equal(hits, before, 'the local server never saw a request');
  assert.equal(await get(`http://127.0.0.1:${port}/`, { allowlist: ['127.0.0.1'] }), 'reached');
});

test('every redirect hop is checked', async () => {
  await assert.rejects(
    guardedFetch(new URL(`http://127.0.0.1:${port}/to-v6-loopback`), { maxBytes: 1000, timeoutMs: 5000, guard: { allowlist: ['127.0.0.1'] } }),
    (e: unknown) => e instanceof SsrfError,
  );
});

test('DNS rebinding: the name is resolved and checked again for each connection', async () => {
  let calls = 0;
  // First answer: the allowed address; then the name "rebinds" to another loopback address.
  const rebinding = ((_host: string, opts: dns.LookupOptions, cb: (e: null, a: dns.LookupAddress[]) => void) => {
    calls++;
    cb(null, [{ address: calls === 1 ? '127.0.0.1' : '127.0.0.2', family: 4 }]);
    void opts;
  }) as unknown as typeof dns.lookup;
  const guard = { allowlist: ['127.0.0.1/32'], lookup: rebinding };
  assert.equal(await get(`http://rebind.test:${port}/`, guard), 'reached');
  const before = hits;
  await assert.rejects(get(`http://rebind.test:${port}/`, guard), (e: unknown) => e instanceof SsrfError && /127\.0\.0\.2/.test(e.message));
  assert.equal(calls, 2);
  assert.equal(hits, before);
});

test('byte and time limits', async () => {
  const big = http.createServer((_req, res) => {
    res.write(Buffer.alloc(64 * 1024));
    res.end(Buffer.alloc(64 * 1024));
  });
  const slow = http.createServer(() => {
    // never answers
  });
  await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  try {
    const guard = { allowlist: ['127.0.0.1'] };
    const bigUrl = new URL(`http://127.0.0.1:${(big.address() as AddressInfo).port}/`);
    await assert.rejects(guardedFetch(bigUrl, { maxBytes: 1000, timeoutMs: 5000, guard }), /larger than 1000 bytes/);
    const truncated = await guardedFetch(bigUrl, { maxBytes: 1000, truncate: true, timeoutMs: 5000, guard });
    assert.equal(truncated.body.length, 1000);
    const started = Date.now();
    await assert.rejects(
      guardedFetch(new URL(`http://127.0.0.1:${(slow.address() as AddressInfo).port}/`), { maxBytes: 1000, timeoutMs: 300, guard }),
      /timed out/,
    );
    assert.ok(Date.now() - started < 3000);
  } finally {
    slow.closeAllConnections();
    await new Promise<void>((r) => big.close(() => r()));
    await new Promise<void>((r) => slow.close(() => r()));
  }
});
