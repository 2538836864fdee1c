/**
 * Dehydrated devices (MSC3814, unstable prefix): an offline device whose keys and to-device
 * inbox the server keeps for the next login to pick up.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../helpers/server.ts';
import { api, registerUser } from '../../../helpers/clients.ts';
import { FakeDevice } from './e2ee-helpers.ts';

let srv: TestServer;
const P = '/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device';

before(async () => {
  srv = await startTestServer({ open_registration: true });
});
after(async () => {
  await srv.cleanup();
});

function upload(dev: FakeDevice, data = 'pickle') {
  return {
    device_id: dev.deviceId,
    device_data: { algorithm: 'org.matrix.msc3814.v1.olm', device_pickle: data },
    initial_device_display_name: 'Dehydrated device',
    device_keys: { ...dev.deviceKeys() },
    one_time_keys: dev.oneTimeKeys(2),
    fallback_keys: dev.fallbackKey('DFB'),
  };
}

test('store, serve, receive to-device messages, replace and delete a dehydrated device', async () => {
  const alice = await registerUser(srv.baseUrl);
  const bob = await registerUser(srv.baseUrl);
  const a = api(srv.baseUrl, alice.accessToken);
  const b = api(srv.baseUrl, bob.accessToken);
  const none = await a.get(P);
  assert.equal(none.status, 404);
  assert.equal(none.body.errcode, 'M_NOT_FOUND', 'M_NOT_FOUND (not M_UNRECOGNIZED) tells clients the feature exists');

  const dev = new FakeDevice(alice.userId, 'DEHYDRATED1');
  const put = await a.put(P, upload(dev));
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual(put.body, { device_id: 'DEHYDRATED1' });
  assert.deepEqual((await a.get(P)).body, { device_id: 'DEHYDRATED1', device_data: upload(dev).device_data });

  // Other users see it as one of Alice's devices and can start Olm sessions with it.
  const q = await b.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.ok(q.body.device_keys[alice.userId].DEHYDRATED1);
  const claim = await b.post('/keys/claim', { one_time_keys: { [alice.userId]: { DEHYDRATED1: 'signed_curve25519' } } });
  assert.equal(Object.keys(claim.body.one_time_keys[alice.userId].DEHYDRATED1).length, 1);

  for (let i = 0; i < 3; i++) {
    await b.put(`/sendToDevice/m.room.encrypted/d${i}`, { messages: { [alice.userId]: { DEHYDRATED1: { n: i } } } });
  }
  const ev = await a.post(`${P}/DEHYDRATED1/events`, {});
  assert.equal(ev.status, 200);
  assert.deepEqual(ev.body.events.map((e: any) => e.content.n), [0, 1, 2]);
  assert.equal(ev.body.events[0].sender, bob.userId);
  const again = await a.post(`${P}/DEHYDRATED1/events`, {});
  assert.equal(again.body.events.length, 3, 'nothing is acknowledged without next_batch');
  const rest = await a.post(`${P}/DEHYDRATED1/events`, { next_batch: ev.body.next_batch });
  assert.deepEqual(rest.body.events, []);
  assert.deepEqual((await a.post(`${P}/DEHYDRATED1/events`, {})).body.events, [], 'acknowledged messages are gone');
  assert.equal((await a.post(`${P}/OTHER/events`, {})).status, 404);
  assert.equal((await b.post(`${P}/DEHYDRATED1/events`, {})).status, 404, "nobody else reads Alice's device");

  // A new dehydrated device replaces the old one, keys and all.
  const dev2 = new FakeDevice(alice.userId, 'DEHYDRATED2');
  await b.put('/sendToDevice/m.room.encrypted/pending', { messages: { [alice.userId]: { DEHYDRATED1: { n: 9 } } } });
  assert.equal((await a.put(P, upload(dev2, 'second'))).status, 200);
  const q2 = await b.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.deepEqual(Object.keys(q2.body.device_keys[alice.userId]).sort(), ['DEHYDRATED2']);
  assert.equal((await a.get(P)).body.device_id, 'DEHYDRATED2');

  const del = await a.delete(P);
  assert.deepEqual(del.body, { device_id: 'DEHYDRATED2' });
  assert.equal((await a.get(P)).status, 404);
  assert.equal((await a.delete(P)).status, 404);
  const q3 = await b.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.deepEqual(q3.body.device_keys[alice.userId], {});
});

test('bad dehydrated device uploads change nothing', async () => {
  const alice = await registerUser(srv.baseUrl);
  const a = api(srv.baseUrl, alice.accessToken);
  const taken = await a.put(P, upload(new FakeDevice(alice.userId, alice.deviceId)));
  assert.equal(taken.status, 400, "a logged-in device's ID cannot be used");
  const dev = new FakeDevice(alice.userId, 'DEHY');
  const forged = { ...upload(dev), device_keys: new FakeDevice(alice.userId, 'OTHER').deviceKeys() };
  assert.equal((await a.put(P, forged)).status, 400);
  const noKeys = { ...upload(dev), device_keys: undefined };
  assert.equal((await a.put(P, noKeys)).body.errcode, 'M_MISSING_PARAM');
  assert.equal((await a.put(P, { device_id: 'X' })).body.errcode, 'M_MISSING_PARAM');
  assert.equal((await a.get(P)).status, 404);
  const devices = await a.get('/devices');
  assert.deepEqual(devices.body.devices.map((d: any) => d.device_id), [alice.deviceId]);
});
