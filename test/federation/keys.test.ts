/**
 * Server keys, notary queries, X-Matrix request authentication and TLS/SSRF checks between two
 * real Hearth instances (HTTPS with a throwaway CA).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { startFederation, type Federation } from '../helpers/federation.ts';
import { registerUser, api } from '../helpers/clients.ts';
import { readServerKeys, verifyJsonSignature, signatureKeyIds, signingKeyFromSeed } from '../../server/protocol/signing.ts';
import { FederationClient, FederationError } from '../../server/services/federation/client.ts';
import { authorizationHeader, parseXMatrix } from '../../server/services/federation/x-matrix.ts';
import type { Services } from '../../server/services/container.ts';

let fed: Federation;
const svc = (i: number): Services => fed.servers[i]!.test.server.services;

function httpsGet(url: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers, servername: 'localhost' }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data ? JSON.parse(data) : undefined }));
    });
    req.on('error', reject);
  });
}

before(async () => {
  fed = await startFederation(2);
});
after(async () => {
  await fed.cleanup();
});

test('GET /_matrix/key/v2/server is self-signed and valid for a while', async () => {
  const a = fed.servers[0]!;
  const ca = readFileSync(fed.certs.caFile, 'utf8');
  const r = await httpsGet(`https://localhost:${a.port}/_matrix/key/v2/server`, ca);
  assert.equal(r.status, 200);
  const keys = readServerKeys(r.body, a.name, Date.now());
  assert.ok(keys instanceof Map, `key response rejected: ${String(keys)}`);
  assert.ok(r.body.valid_until_ts > Date.now() + 3600_000, 'r.body.valid_until_ts > Date.now() + 3600_000');
  assert.deepEqual(Object.keys(r.body.verify_keys), [svc(0).signingKeys[0]!.keyId]);
});

test('a server fetches and caches another server’s keys over TLS', async () => {
  const b = fed.servers[1]!;
  const keyId = svc(1).signingKeys[0]!.keyId;
  const k = await svc(0).federation.keys.verifyKey(b.name, keyId, Date.now());
  assert.ok(k, 'key found');
  assert.deepEqual(Buffer.from(k.key), Buffer.from(svc(1).signingKeys[0]!.publicKey));
  assert.ok((k.validUntilTs ?? 0) > Date.now(), '(k.validUntilTs ?? 0) > Date.now()');
  // Persisted: the database has the key and the raw response (for the notary).
  const row = await svc(0).db.get<{ n: number }>('SELECT count(*) AS n FROM server_verify_keys WHERE server_name = ?', [b.name]);
  assert.equal(row?.n, 1);
});

test('notary: GET and POST /_matrix/key/v2/query return the server’s keys countersigned', async () => {
  const [a, b] = fed.servers as [typeof fed.servers[0], typeof fed.servers[0]];
  const ca = readFileSync(fed.certs.caFile, 'utf8');
  const r = await httpsGet(`https://localhost:${a.port}/_matrix/key/v2/query/${encodeURIComponent(b.name)}`, ca);
  assert.equal(r.status, 200);
  assert.equal(r.body.server_keys.length, 1);
  const resp = r.body.server_keys[0];
  assert.ok(readServerKeys(resp, b.name, Date.now()) instanceof Map, 'still self-signed by B');
  const aKey = svc(0).signingKeys[0]!;
  assert.deepEqual(signatureKeyIds(resp, a.name), [aKey.keyId]);
  assert.ok(verifyJsonSignature(resp, a.name, aKey.keyId, aKey.publicKey), 'countersigned by A');

  // POST: an unreachable server is simply left out.
  const post = await api(a.baseUrl).post('/_matrix/key/v2/query', { server_keys: { [b.name]: {}, 'localhost:1': {} } });
  assert.equal(post.status, 200);
  assert.deepEqual(post.body.server_keys.map((k: any) => k.server_name), [b.name]);

  // A third party can use A as a notary for B.
  const keys = await svc(1).federation.keys.fetchViaNotary(a.name, b.name, [], 0);
  assert.ok(keys?.has(svc(1).signingKeys[0]!.keyId), 'keys?.has(svc(1).signingKeys[0]!.keyId)');
});

test('X-Matrix: signed requests are accepted, bad or missing signatures get 401 M_UNAUTHORIZED', async () => {
  const [a, b] = fed.servers as [typeof fed.servers[0], typeof fed.servers[0]];
  const user = await registerUser(b.baseUrl, 'bob');
  await svc(1).profiles.set(user.userId, 'displayname', 'Bob B');
  const ok = await svc(0).federation.client.request<any>(b.name, 'GET', '/_matrix/federation/v1/query/profile', { query: { user_id: user.userId } });
  assert.equal(ok.displayname, 'Bob B');

  const path = `/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(user.userId)}`;
  const aKey = svc(0).signingKeys[0]!;
  const good = authorizationHeader('GET', path, a.name, b.name, aKey);
  const bad = good.replace(/sig="([^"]{4})/, 'sig="AAAA');
  for (const [header, why] of [
    [undefined, 'missing'],
    [bad, 'forged'],
    [authorizationHeader('GET', path, a.name, 'other.example', aKey), 'wrong destination'],
    [authorizationHeader('GET', path, a.name, b.name, signingKeyFromSeed(new Uint8Array(32).fill(7), aKey.keyId)), 'wrong key'],
    ['Bearer abc', 'other scheme'],
  ] as const) {
    const r = await api(b.baseUrl).raw('GET', path, undefined, header ? { authorization: header } : {});
    assert.equal(r.status, 401, why);
    assert.equal(r.body.errcode, 'M_UNAUTHORIZED', why);
  }
  const r = await api(b.baseUrl).raw('GET', path, undefined, { authorization: good });
  assert.equal(r.status, 200);
});

test('X-Matrix header parsing follows RFC 9110 auth-params', () => {
  assert.deepEqual(parseXMatrix('X-Matrix origin=a.example:8448,key="ed25519:1",sig="x\\"y"'), {
    origin: 'a.example:8448',
    destination: undefined,
    key: 'ed25519:1',
    sig: 'x"y',
  });
  assert.deepEqual(parseXMatrix('x-matrix  ORIGIN="o" , Destination = "d",\tkey="k", sig=s, extra="z"'), { origin: 'o', destination: 'd', key: 'k', sig: 's' });
  assert.equal(parseXMatrix('X-Matrix origin="o",key="k"'), undefined);
  assert.equal(parseXMatrix('Basic abc'), undefined);
});

test('/version names Hearth; unknown federation endpoints are 404 M_UNRECOGNIZED', async () => {
  const a = fed.servers[0]!;
  const v = await api(a.baseUrl).get('/_matrix/federation/v1/version');
  assert.equal(v.body.server.name, 'Hearth');
  const u = await api(a.baseUrl).get('/_matrix/federation/v1/nonsense');
  assert.equal(u.status, 404);
  assert.equal(u.body.errcode, 'M_UNRECOGNIZED');
});

test('outbound TLS is validated and private addresses are refused unless allowed', async () => {
  const b = fed.servers[1]!;
  const s0 = svc(0);
  const base = {
    serverName: () => fed.servers[0]!.name,
    signingKey: () => s0.signingKeys[0]!,
    discovery: s0.appliance.discovery,
    log: s0.log,
  };
  // Without the test CA the certificate is not trusted.
  const noCa = new FederationClient({ ...base, ca: [], guard: { allowPrivate: true } });
  await assert.rejects(noCa.request(b.name, 'GET', '/_matrix/federation/v1/version', { unsigned: true }), (e: FederationError) => {
    assert.equal(e.status, 0);
    assert.match(e.message, /trusted|certificate|self.signed|issuer/i);
    return true;
  });
  noCa.close();
  // Without federation_allow_private, loopback is refused by the SSRF guard.
  const guarded = new FederationClient({ ...base, ca: s0.appliance.caBundle(), guard: { allowPrivate: false } });
  await assert.rejects(guarded.request(b.name, 'GET', '/_matrix/federation/v1/version', { unsigned: true }), /refus|loopback/i);
  guarded.close();
});

test('slow and oversized answers fail the request instead of hanging or filling memory', async () => {
  const https = await import('node:https');
  const { readFileSync: read } = await import('node:fs');
  const srv = https.createServer({ cert: read(fed.certs.certFile), key: read(fed.certs.keyFile) }, (req, res) => {
    if (req.url?.startsWith('/slow')) return; // never answers
    if (req.url?.startsWith('/drip')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"a":'); // starts, then stalls
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ big: 'x'.repeat(200_000) }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const name = `localhost:${(srv.address() as import('node:net').AddressInfo).port}`;
  const c = svc(0).federation.client;
  try {
    const t0 = Date.now();
    await assert.rejects(c.request(name, 'GET', '/slow', { timeoutMs: 300 }), (e: FederationError) => e.status === 0);
    await assert.rejects(c.request(name, 'GET', '/drip', { timeoutMs: 300 }), (e: FederationError) => e.status === 0);
    assert.ok(Date.now() - t0 < 5000, 'both gave up at their deadline');
    await assert.rejects(c.request(name, 'GET', '/big', { maxBytes: 64 * 1024 }), /larger than/);
  } finally {
    srv.closeAllConnections();
    srv.close();
  }
});
