/**
 * Server discovery (server-server-api "Resolving server names"), every branch, with DNS and the
 * /.well-known fetch given as small tables; plus the spec's caching rules for /.well-known.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerDiscovery, parseServerName, wellKnownCacheMs, type DiscoveryDeps, type WellKnownResponse } from '../../server/services/federation/discovery.ts';

function deps(o: {
  a?: Record<string, string[]>;
  srv?: Record<string, { name: string; port: number; priority?: number; weight?: number }[]>;
  wk?: Record<string, WellKnownResponse | Error>;
  now?: () => number;
}) {
  const calls = { wk: 0 };
  const d: DiscoveryDeps = {
    addresses: async (h) => o.a?.[h] ?? [],
    srv: async (n) => (o.srv?.[n] ?? []).map((r) => ({ priority: 10, weight: 0, ...r })),
    fetchWellKnown: async (h) => {
      calls.wk++;
      const r = o.wk?.[h];
      if (!r) throw new Error('connection refused');
      if (r instanceof Error) throw r;
      return r;
    },
    now: o.now ?? (() => 1_000_000),
  };
  return { d, calls };
}
const json = (body: unknown, headers: Record<string, string> = {}): WellKnownResponse => ({ status: 200, headers, body: JSON.stringify(body) });

test('server name grammar', () => {
  assert.deepEqual(parseServerName('example.org'), { hostname: 'example.org', port: undefined, isIp: false });
  assert.deepEqual(parseServerName('example.org:8448'), { hostname: 'example.org', port: 8448, isIp: false });
  assert.deepEqual(parseServerName('1.2.3.4:80'), { hostname: '1.2.3.4', port: 80, isIp: true });
  assert.deepEqual(parseServerName('[::1]:8448'), { hostname: '[::1]', port: 8448, isIp: true });
  for (const bad of ['', 'exa mple.org', 'example.org:0', 'example.org:99999', 'a:b:c', '300.1.1.1', 'https://x']) {
    assert.equal(parseServerName(bad), undefined, bad);
  }
});

test('1: IP literal → that address, given port or 8448; Host is the server name', async () => {
  const { d } = deps({});
  const r = await new ServerDiscovery(d).resolve('[2001:db8::1]');
  assert.deepEqual([r.host, r.port, r.hostHeader, r.via], ['2001:db8::1', 8448, '[2001:db8::1]', 'ip-literal']);
});

test('2: explicit port → A/AAAA of the hostname, no .well-known', async () => {
  const { d, calls } = deps({ a: { 'example.org': ['192.0.2.1'] } });
  const r = await new ServerDiscovery(d).resolve('example.org:8443');
  assert.deepEqual([r.host, r.port, r.hostHeader, r.tlsName, r.addresses], ['example.org', 8443, 'example.org:8443', 'example.org', ['192.0.2.1']]);
  assert.equal(calls.wk, 0);
});

test('3.2: .well-known delegates to host:port', async () => {
  const { d } = deps({ a: { 'matrix.example.org': ['192.0.2.2'] }, wk: { 'example.org': json({ 'm.server': 'matrix.example.org:443' }) } });
  const r = await new ServerDiscovery(d).resolve('example.org');
  assert.deepEqual([r.host, r.port, r.hostHeader, r.tlsName, r.via], ['matrix.example.org', 443, 'matrix.example.org:443', 'matrix.example.org', 'well-known']);
});

test('3.3/3.4: .well-known without port → SRV _matrix-fed then legacy _matrix on the delegated name', async () => {
  const wk = { 'example.org': json({ 'm.server': 'matrix.example.org' }) };
  const fed = deps({ wk, a: { 'srv.example.net': ['192.0.2.3'] }, srv: { '_matrix-fed._tcp.matrix.example.org': [{ name: 'srv.example.net', port: 1234 }] } });
  const r = await new ServerDiscovery(fed.d).resolve('example.org');
  assert.deepEqual([r.host, r.port, r.hostHeader, r.tlsName, r.via], ['srv.example.net', 1234, 'matrix.example.org', 'matrix.example.org', 'well-known+srv']);
  const legacy = deps({ wk, a: { 'old.example.net': ['192.0.2.4'] }, srv: { '_matrix._tcp.matrix.example.org': [{ name: 'old.example.net', port: 4321 }] } });
  const r2 = await new ServerDiscovery(legacy.d).resolve('example.org');
  assert.deepEqual([r2.host, r2.port, r2.hostHeader], ['old.example.net', 4321, 'matrix.example.org']);
});

test('3.5: .well-known without port and no SRV → delegated name on 8448', async () => {
  const { d } = deps({ wk: { 'example.org': json({ 'm.server': 'matrix.example.org' }) }, a: { 'matrix.example.org': ['192.0.2.5'] } });
  const r = await new ServerDiscovery(d).resolve('example.org');
  assert.deepEqual([r.host, r.port, r.hostHeader, r.via], ['matrix.example.org', 8448, 'matrix.example.org', 'well-known+8448']);
});

test('4-6: invalid or missing .well-known → SRV on the hostname, else 8448; Host and certificate stay the hostname', async () => {
  for (const bad of [{ status: 404, headers: {}, body: 'nope' }, json({ nope: 1 }), json({ 'm.server': 'not a name!' }), { status: 200, headers: {}, body: '{bad json' }]) {
    const { d } = deps({ wk: { 'example.org': bad }, a: { 'example.org': ['192.0.2.6'] } });
    const r = await new ServerDiscovery(d).resolve('example.org');
    assert.deepEqual([r.host, r.port, r.hostHeader, r.via], ['example.org', 8448, 'example.org', 'default-8448']);
    assert.ok(r.wellKnown && 'error' in r.wellKnown);
  }
  const { d } = deps({ a: { 'fed.example.org': ['192.0.2.7'] }, srv: { '_matrix-fed._tcp.example.org': [{ name: 'fed.example.org', port: 8800 }] } });
  const r = await new ServerDiscovery(d).resolve('example.org');
  assert.deepEqual([r.host, r.port, r.hostHeader, r.tlsName, r.via], ['fed.example.org', 8800, 'example.org', 'example.org', 'srv']);
  // SRV records are tried by priority; a target without an address is skipped.
  const pri = deps({
    a: { 'b.example.org': ['192.0.2.9'] },
    srv: { '_matrix-fed._tcp.example.org': [{ name: 'b.example.org', port: 2, priority: 20 }, { name: 'a.example.org', port: 1, priority: 10 }] },
  });
  assert.equal((await new ServerDiscovery(pri.d).resolve('example.org')).host, 'b.example.org');
  await assert.rejects(new ServerDiscovery(deps({}).d).resolve('nowhere.example'), /no A or AAAA record/);
});

test('.well-known caching: Cache-Control respected, 24 h default, 48 h cap, errors cached with backoff', async () => {
  assert.equal(wellKnownCacheMs({ 'cache-control': 'max-age=600' }, 0), 600_000);
  assert.equal(wellKnownCacheMs({}, 0), 24 * 3600_000);
  assert.equal(wellKnownCacheMs({ 'cache-control': 'max-age=9999999' }, 0), 48 * 3600_000);
  assert.equal(wellKnownCacheMs({ 'cache-control': 'no-store' }, 0), 0);
  assert.equal(wellKnownCacheMs({ expires: new Date(3_600_000).toUTCString() }, 0), 3_600_000);

  let now = 0;
  const wk: Record<string, WellKnownResponse | Error> = { 'example.org': json({ 'm.server': 'm.example.org:443' }, { 'cache-control': 'max-age=60' }) };
  const { d, calls } = deps({ wk, a: { 'm.example.org': ['192.0.2.1'], 'example.org': ['192.0.2.1'] }, now: () => now });
  const disc = new ServerDiscovery(d);
  await disc.resolve('example.org');
  await disc.resolve('example.org');
  assert.equal(calls.wk, 1, 'cached');
  now = 61_000;
  wk['example.org'] = new Error('down');
  assert.equal((await disc.resolve('example.org')).via, 'default-8448');
  assert.equal(calls.wk, 2, 'refetched after max-age');
  now += 60_000;
  await disc.resolve('example.org');
  assert.equal(calls.wk, 2, 'errors are cached too');
  now += 120_001;
  await disc.resolve('example.org');
  assert.equal(calls.wk, 3);
  now += 120_001;
  await disc.resolve('example.org');
  assert.equal(calls.wk, 3, 'repeated failures back off (4 minutes now)');
  await disc.resolve('example.org', { fresh: true });
  assert.equal(calls.wk, 4, 'the self-test can ask for a fresh answer');
});
