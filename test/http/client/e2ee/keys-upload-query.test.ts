/**
 * /keys/upload and /keys/query over real HTTP (keys.yaml; end_to_end_encryption.md "Uploading
 * keys"): what a client uploads is checked (right user and device, signed by the device's own
 * ed25519 key) and served back to other users with the device's display name.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../helpers/server.ts';
import { api, registerUser } from '../../../helpers/clients.ts';
import { FakeDevice, withDeviceKeys } from './e2ee-helpers.ts';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ open_registration: true });
});
after(async () => {
  await srv.cleanup();
});

test('device keys signed by the device are stored and served to other users with the display name', async () => {
  const alice = await registerUser(srv.baseUrl, undefined, undefined, { displayName: "Alice's laptop" });
  const bob = await registerUser(srv.baseUrl);
  const dev = new FakeDevice(alice.userId, alice.deviceId);
  const a = api(srv.baseUrl, alice.accessToken);
  const up = await a.post('/keys/upload', { device_keys: dev.deviceKeys(), one_time_keys: dev.oneTimeKeys(5) });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.deepEqual(up.body.one_time_key_counts, { signed_curve25519: 5 });

  const q = await api(srv.baseUrl, bob.accessToken).post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.equal(q.status, 200);
  const served = q.body.device_keys[alice.userId][alice.deviceId];
  assert.equal(served.keys[`ed25519:${alice.deviceId}`], dev.ed25519);
  assert.equal(served.keys[`curve25519:${alice.deviceId}`], dev.curve25519);
  assert.deepEqual(served.unsigned, { device_display_name: "Alice's laptop" });
  assert.deepEqual(served.signatures, dev.deviceKeys().signatures, 'the self-signature is served unchanged');
  assert.deepEqual(q.body.failures, {});
});

test('keys of another user or another device, or with a bad signature, are rejected', async () => {
  const alice = await registerUser(srv.baseUrl);
  const bob = await registerUser(srv.baseUrl);
  const a = api(srv.baseUrl, alice.accessToken);

  const asBob = new FakeDevice(bob.userId, alice.deviceId).deviceKeys();
  const r1 = await a.post('/keys/upload', { device_keys: asBob });
  assert.equal(r1.status, 400);
  assert.equal(r1.body.errcode, 'M_INVALID_PARAM');

  const otherDevice = new FakeDevice(alice.userId, 'SOMEOTHERDEVICE').deviceKeys();
  const r2 = await a.post('/keys/upload', { device_keys: otherDevice });
  assert.equal(r2.status, 400);
  assert.equal(r2.body.errcode, 'M_INVALID_PARAM');

  const dev = new FakeDevice(alice.userId, alice.deviceId);
  const tampered = dev.deviceKeys() as { keys: Record<string, string> };
  tampered.keys[`curve25519:${alice.deviceId}`] = 'c29tZXRoaW5nIGVsc2UgZW50aXJlbHkgMzIgYnl0ZXM';
  const r3 = await a.post('/keys/upload', { device_keys: tampered });
  assert.equal(r3.status, 400);
  assert.equal(r3.body.errcode, 'M_INVALID_SIGNATURE');

  // Signed by a different ed25519 key than the one it publishes.
  const impostor = new FakeDevice(alice.userId, alice.deviceId);
  const mixed = { ...dev.deviceKeys(), signatures: impostor.deviceKeys().signatures };
  const r4 = await a.post('/keys/upload', { device_keys: mixed });
  assert.equal(r4.body.errcode, 'M_INVALID_SIGNATURE');

  const q = await api(srv.baseUrl, bob.accessToken).post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.deepEqual(q.body.device_keys[alice.userId], {}, 'nothing was stored');
});

test('one-time and fallback keys must be signed by the uploading device', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl));
  const stranger = new FakeDevice(alice.userId, alice.deviceId);
  const bad = await alice.api.post('/keys/upload', { one_time_keys: stranger.oneTimeKeys(1) });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.errcode, 'M_INVALID_SIGNATURE');
  const badFallback = await alice.api.post('/keys/upload', { fallback_keys: stranger.fallbackKey() });
  assert.equal(badFallback.body.errcode, 'M_INVALID_SIGNATURE');
  const unsigned = await alice.api.post('/keys/upload', { one_time_keys: { 'signed_curve25519:X1': { key: 'abc' } } });
  assert.equal(unsigned.body.errcode, 'M_INVALID_SIGNATURE');

  const two = await alice.api.post('/keys/upload', { fallback_keys: { ...alice.device.fallbackKey('F1'), ...alice.device.fallbackKey('F2') } });
  assert.equal(two.status, 400, 'at most one fallback key per algorithm');

  const empty = await alice.api.post('/keys/upload', {});
  assert.deepEqual(empty.body.one_time_key_counts, { signed_curve25519: 0 }, 'nothing bad was stored');
});

test('signed one-time keys need the device keys first', async () => {
  const u = await registerUser(srv.baseUrl);
  const dev = new FakeDevice(u.userId, u.deviceId);
  const r = await api(srv.baseUrl, u.accessToken).post('/keys/upload', { one_time_keys: dev.oneTimeKeys(1) });
  assert.equal(r.status, 400);
});

test('re-uploading the same one-time key is harmless; a different key under the same ID is refused', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl));
  const keys = alice.device.oneTimeKeys(3);
  assert.deepEqual((await alice.api.post('/keys/upload', { one_time_keys: keys })).body.one_time_key_counts, { signed_curve25519: 3 });
  assert.deepEqual((await alice.api.post('/keys/upload', { one_time_keys: keys })).body.one_time_key_counts, { signed_curve25519: 3 });
  const [id] = Object.keys(keys);
  const clash = { [id!]: alice.device.sign({ key: 'ZGlmZmVyZW50IGtleSBtYXRlcmlhbCBoZXJlIQ' }) };
  const r = await alice.api.post('/keys/upload', { one_time_keys: clash });
  assert.equal(r.status, 400);
  assert.deepEqual((await alice.api.post('/keys/upload', {})).body.one_time_key_counts, { signed_curve25519: 3 });
});

test('query: specific devices, unknown users and devices, remote servers in failures, bad input', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl));
  const bob = await registerUser(srv.baseUrl);
  const b = api(srv.baseUrl, bob.accessToken);
  const some = await b.post('/keys/query', { device_keys: { [alice.userId]: [alice.deviceId, 'NOSUCHDEVICE'] } });
  assert.deepEqual(Object.keys(some.body.device_keys[alice.userId]), [alice.deviceId]);

  const unknown = await b.post('/keys/query', { device_keys: { '@nobody:localhost': [], '@carol:remote.example': [] } });
  assert.equal(unknown.status, 200);
  assert.deepEqual(unknown.body.device_keys['@nobody:localhost'], {});
  assert.ok(unknown.body.failures['remote.example'], 'an unreachable server is reported in failures');

  assert.equal((await b.post('/keys/query', {})).body.errcode, 'M_MISSING_PARAM');
  assert.equal((await b.post('/keys/query', { device_keys: { [alice.userId]: 'x' } })).status, 400);
  assert.equal((await b.raw('POST', '/keys/query', '{nope')).body.errcode, 'M_NOT_JSON');
  assert.equal((await api(srv.baseUrl).post('/keys/query', { device_keys: {} })).status, 401);
});

test('deleting a device removes its keys from /keys/query', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl), 2);
  const second = await api(srv.baseUrl).post('/login', {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: alice.userId },
    password: alice.password,
  });
  const other = await withDeviceKeys(srv.baseUrl, { ...alice, accessToken: second.body.access_token, deviceId: second.body.device_id });
  const before = await other.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.equal(Object.keys(before.body.device_keys[alice.userId]).length, 2);

  const del = await other.api.post('/delete_devices', { devices: [alice.deviceId] });
  let res = del;
  if (del.status === 401) {
    res = await other.api.post('/delete_devices', {
      devices: [alice.deviceId],
      auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: alice.userId }, password: alice.password, session: del.body.session },
    });
  }
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const afterDel = await other.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.deepEqual(Object.keys(afterDel.body.device_keys[alice.userId]), [other.deviceId]);
  const claim = await other.api.post('/keys/claim', { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } });
  assert.deepEqual(claim.body.one_time_keys, {}, 'its one-time keys are gone too');
});
