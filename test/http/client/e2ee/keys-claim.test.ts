/**
 * /keys/claim (keys.yaml): one-time keys go out in upload order and never twice, even to
 * concurrent claimers; with none left the fallback key is returned (and stays).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../helpers/server.ts';
import { api, registerUser, type Api } from '../../../helpers/clients.ts';
import { withDeviceKeys, type KeyedUser } from './e2ee-helpers.ts';

let srv: TestServer;
let claimers: Api[];

before(async () => {
  srv = await startTestServer({ open_registration: true });
  claimers = [];
  for (let i = 0; i < 6; i++) claimers.push(api(srv.baseUrl, (await registerUser(srv.baseUrl)).accessToken));
});
after(async () => {
  await srv.cleanup();
});

function claimBody(u: KeyedUser) {
  return { one_time_keys: { [u.userId]: { [u.deviceId]: 'signed_curve25519' } } };
}

function claimedIds(body: any, u: KeyedUser): string[] {
  return Object.keys(body.one_time_keys?.[u.userId]?.[u.deviceId] ?? {});
}

test('keys are handed out oldest upload first, each once', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl));
  const first = alice.device.oneTimeKeys(2);
  const second = alice.device.oneTimeKeys(2);
  await alice.api.post('/keys/upload', { one_time_keys: first });
  await alice.api.post('/keys/upload', { one_time_keys: second });
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push(...claimedIds((await claimers[0]!.post('/keys/claim', claimBody(alice))).body, alice));
  assert.deepEqual(got.slice(0, 2).sort(), Object.keys(first).sort(), 'the first upload goes first');
  assert.deepEqual(got.slice(2).sort(), Object.keys(second).sort());
  const served = (await claimers[0]!.post('/keys/claim', claimBody(alice))).body;
  assert.deepEqual(served.one_time_keys, {}, 'nothing left and no fallback key: the device is absent');
  assert.deepEqual((await alice.api.post('/keys/upload', {})).body.one_time_key_counts, { signed_curve25519: 0 });
});

test('the claimed key is the uploaded signed object', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl));
  const keys = alice.device.oneTimeKeys(1);
  await alice.api.post('/keys/upload', { one_time_keys: keys });
  const r = await claimers[1]!.post('/keys/claim', claimBody(alice));
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.one_time_keys[alice.userId][alice.deviceId], keys);
  assert.deepEqual(r.body.failures, {});
});

test('concurrent claims of the last one-time key: exactly one claimer gets it, the others get the fallback key', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl));
  const otk = alice.device.oneTimeKeys(1);
  const fallback = alice.device.fallbackKey('FALLBACK1');
  await alice.api.post('/keys/upload', { one_time_keys: otk, fallback_keys: fallback });
  const results = await Promise.all(claimers.map((c) => c.post('/keys/claim', claimBody(alice))));
  const ids = results.map((r) => claimedIds(r.body, alice));
  assert.ok(ids.every((x) => x.length === 1), 'everyone gets a key');
  const otkId = Object.keys(otk)[0]!;
  assert.equal(ids.filter(([k]) => k === otkId).length, 1, 'the one-time key went to exactly one claimer');
  assert.equal(ids.filter(([k]) => k === 'signed_curve25519:FALLBACK1').length, claimers.length - 1);
  const fb = results.find((r) => claimedIds(r.body, alice)[0] === 'signed_curve25519:FALLBACK1')!;
  assert.deepEqual(fb.body.one_time_keys[alice.userId][alice.deviceId], fallback, 'the fallback key is served as uploaded');
});

test('concurrent claims never hand out one key twice', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl));
  await alice.api.post('/keys/upload', { one_time_keys: alice.device.oneTimeKeys(3) });
  const rounds = await Promise.all([...claimers, ...claimers].map((c) => c.post('/keys/claim', claimBody(alice))));
  const all = rounds.flatMap((r) => claimedIds(r.body, alice));
  assert.equal(all.length, 3, 'three keys, three winners, no fallback');
  assert.equal(new Set(all).size, 3);
});

test('a fallback key is reused until a new one replaces it', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl));
  const fb = alice.device.fallbackKey('FB_A');
  await alice.api.post('/keys/upload', { fallback_keys: fb });
  for (let i = 0; i < 2; i++) {
    const r = await claimers[2]!.post('/keys/claim', claimBody(alice));
    assert.deepEqual(claimedIds(r.body, alice), ['signed_curve25519:FB_A']);
  }
  await alice.api.post('/keys/upload', { fallback_keys: alice.device.fallbackKey('FB_B') });
  const r = await claimers[2]!.post('/keys/claim', claimBody(alice));
  assert.deepEqual(claimedIds(r.body, alice), ['signed_curve25519:FB_B'], 'the new fallback key replaced the old one');
  // A fresh one-time key still wins over the fallback key.
  await alice.api.post('/keys/upload', { one_time_keys: alice.device.oneTimeKeys(1) });
  const r2 = await claimers[2]!.post('/keys/claim', claimBody(alice));
  assert.match(claimedIds(r2.body, alice)[0]!, /^signed_curve25519:AAAA/);
});

test('claims for several devices at once, unknown devices and algorithms, remote users and bad input', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl), 1);
  const bob = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl), 1);
  const r = await claimers[3]!.post('/keys/claim', {
    one_time_keys: {
      [alice.userId]: { [alice.deviceId]: 'signed_curve25519', NOPE: 'signed_curve25519' },
      [bob.userId]: { [bob.deviceId]: 'curve25519' },
      '@x:elsewhere.example': { DEV: 'signed_curve25519' },
    },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body.one_time_keys), [alice.userId]);
  assert.deepEqual(Object.keys(r.body.one_time_keys[alice.userId]), [alice.deviceId]);
  assert.ok(r.body.failures['elsewhere.example']);
  assert.deepEqual((await bob.api.post('/keys/upload', {})).body.one_time_key_counts, { signed_curve25519: 1 }, 'a wrong algorithm claims nothing');
  assert.equal((await claimers[3]!.post('/keys/claim', {})).body.errcode, 'M_MISSING_PARAM');
  assert.equal((await claimers[3]!.post('/keys/claim', { one_time_keys: { [alice.userId]: { D: 5 } } })).status, 400);
});
