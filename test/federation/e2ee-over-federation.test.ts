/**
 * E2EE plumbing between two servers, with raw clients holding real ed25519 device keys:
 * remote device lists fetched once (/user/devices) and cached, kept fresh by
 * m.device_list_update EDUs (new and deleted devices reach /sync device_lists.changed and the
 * cached answer), a gap in the EDU sequence refetching the list, forged and stale EDUs ignored,
 * cross-signing keys (m.signing_key_update) a local user can sign, one-time key claims across
 * servers, to-device messages both ways delivered once per message_id, and cached keys
 * answering while the other server is down.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFederation, type Federation } from '../helpers/federation.ts';
import { api, registerUser } from '../helpers/clients.ts';
import { waitFor } from '../helpers/fed-clients.ts';
import { crossSigningSet, loginAgain, signWith, sync, withDeviceKeys, type KeyedUser } from '../http/client/e2ee/e2ee-helpers.ts';

let fed: Federation;
let alice: KeyedUser;
let bob: KeyedUser;
let roomId: string;

const services = (i: number) => fed.servers[i]!.test.server.services;

async function cacheRow(i: number, userId: string): Promise<{ stream_id: number; stale: number; fetched_ts: number } | undefined> {
  return services(i).db.get('SELECT stream_id, stale, fetched_ts FROM federation_remote_device_lists WHERE user_id = ? LIMIT 1', [userId]);
}

async function devicesOf(u: KeyedUser, target: string): Promise<string[]> {
  const r = await u.api.post('/keys/query', { device_keys: { [target]: [] } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.failures, {});
  return Object.keys(r.body.device_keys[target] ?? {}).sort();
}

/** A's federation client sends B a transaction holding `edus` (signed as A, like a real one). */
function sendEdus(from: number, to: number, edus: unknown[]): Promise<unknown> {
  const txn = `t${Date.now()}${Math.random().toString(36).slice(2)}`;
  return services(from).federation.client.request(fed.servers[to]!.name, 'PUT', `/_matrix/federation/v1/send/${txn}`, {
    body: { origin: fed.servers[from]!.name, origin_server_ts: Date.now(), pdus: [], edus },
  });
}

before(async () => {
  fed = await startFederation(2);
  alice = await withDeviceKeys(fed.servers[0]!.baseUrl, await registerUser(fed.servers[0]!.baseUrl, 'alice'), 5);
  bob = await withDeviceKeys(fed.servers[1]!.baseUrl, await registerUser(fed.servers[1]!.baseUrl, 'bob'), 5);
  const r = await alice.api.post('/createRoom', { preset: 'public_chat' });
  roomId = r.body.room_id;
  const j = await bob.api.post(`/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(fed.servers[0]!.name)}`, {});
  assert.equal(j.status, 200, JSON.stringify(j.body));
  await waitFor('A sees bob joined', async () => {
    const m = await alice.api.get(`/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(bob.userId)}`);
    return m.body?.membership === 'join';
  });
});

after(async () => {
  await fed.cleanup();
});

test('B fetches alice’s device list from A once and keeps it', async () => {
  const r = await bob.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.equal(r.status, 200);
  const keys = r.body.device_keys[alice.userId][alice.deviceId];
  assert.equal(keys.keys[`ed25519:${alice.deviceId}`], alice.device.ed25519);
  assert.ok(keys.signatures[alice.userId][`ed25519:${alice.deviceId}`], 'signed by the device');
  const row = await cacheRow(1, alice.userId);
  assert.ok(row, 'cached on B');
  assert.equal(row.stale, 0);
  // And the other direction, for a specific device.
  const back = await alice.api.post('/keys/query', { device_keys: { [bob.userId]: [bob.deviceId] } });
  assert.deepEqual(Object.keys(back.body.device_keys[bob.userId]), [bob.deviceId]);
});

test('a new device and a deleted one on A reach B through m.device_list_update (sync and cache)', async () => {
  const since = (await sync(bob.api)).next_batch;
  const before = (await cacheRow(1, alice.userId))!;
  const second = await withDeviceKeys(fed.servers[0]!.baseUrl, await loginAgain(fed.servers[0]!.baseUrl, alice));
  const changed = await waitFor('bob’s sync reports alice changed', async () => {
    const s = await sync(bob.api, since, 1000);
    return s.device_lists?.changed?.includes(alice.userId) ? s : undefined;
  });
  assert.ok(changed);
  assert.deepEqual(await devicesOf(bob, alice.userId), [alice.deviceId, second.deviceId].sort());
  const after = (await cacheRow(1, alice.userId))!;
  assert.ok(after.stream_id > before.stream_id, 'the EDU moved the cached stream_id');
  assert.equal(after.fetched_ts, before.fetched_ts, 'applied from the EDU, not refetched');

  const since2 = (await sync(bob.api)).next_batch;
  assert.equal((await api(fed.servers[0]!.baseUrl, second.accessToken).post('/logout', {})).status, 200);
  await waitFor('bob’s sync reports the deletion', async () => (await sync(bob.api, since2, 1000)).device_lists?.changed?.includes(alice.userId));
  await waitFor('the deleted device is gone from the cached answer', async () => (await devicesOf(bob, alice.userId)).length === 1);
  assert.equal((await cacheRow(1, alice.userId))!.fetched_ts, before.fetched_ts);
});

test('a gap in the sequence makes B refetch; stale, foreign and malformed updates are ignored', async () => {
  const A = fed.servers[0]!.name;
  const before = (await cacheRow(1, alice.userId))!;
  // Already applied (stream_id not newer): nothing happens.
  await sendEdus(0, 1, [{ edu_type: 'm.device_list_update', content: { user_id: alice.userId, device_id: 'GHOST', stream_id: before.stream_id, prev_id: [1], deleted: false } }]);
  // A user of another server: A may not speak for them.
  await sendEdus(0, 1, [{ edu_type: 'm.device_list_update', content: { user_id: bob.userId, device_id: 'FORGED', stream_id: 10 ** 9, prev_id: [], deleted: false } }]);
  await sendEdus(0, 1, [{ edu_type: 'm.device_list_update', content: { user_id: alice.userId, device_id: 3, stream_id: 'x' } }, { edu_type: 'm.device_list_update', content: 'nope' }]);
  assert.deepEqual(await devicesOf(bob, alice.userId), [alice.deviceId]);
  assert.deepEqual(await devicesOf(alice, bob.userId), [bob.deviceId]);
  assert.equal((await cacheRow(1, alice.userId))!.fetched_ts, before.fetched_ts);

  // An update whose prev_id B never saw: an EDU was lost, so B refetches from /user/devices.
  await sendEdus(0, 1, [{ edu_type: 'm.device_list_update', content: { user_id: alice.userId, device_id: 'LOSTDEV', stream_id: 10 ** 12, prev_id: [10 ** 12 - 1], deleted: false } }]);
  const refetched = await waitFor('B refetches alice’s list', async () => {
    const r = await cacheRow(1, alice.userId);
    return r && r.fetched_ts > before.fetched_ts && r.stale === 0 ? r : undefined;
  });
  assert.ok(refetched.stream_id < 10 ** 12, 'the snapshot’s stream_id, not the bogus one');
  assert.deepEqual(await devicesOf(bob, alice.userId), [alice.deviceId], 'the snapshot has no LOSTDEV');
  void A;
});

test('cross-signing keys reach B (m.signing_key_update) and bob can sign alice’s master key', async () => {
  const since = (await sync(bob.api)).next_batch;
  const cs = crossSigningSet(alice.userId);
  const up = await alice.api.post('/keys/device_signing/upload', cs.body);
  assert.equal(up.status, 200, JSON.stringify(up.body));
  await waitFor('bob hears alice’s keys changed', async () => (await sync(bob.api, since, 1000)).device_lists?.changed?.includes(alice.userId));
  const q = await bob.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.deepEqual(q.body.master_keys[alice.userId].keys, cs.body.master_key.keys);
  assert.deepEqual(q.body.self_signing_keys[alice.userId].keys, cs.body.self_signing_key.keys);
  assert.equal(q.body.user_signing_keys?.[alice.userId], undefined, 'user-signing keys stay private');

  // Bob's own cross-signing, then his user-signing key signs alice's (remote) master key.
  const bcs = crossSigningSet(bob.userId);
  assert.equal((await bob.api.post('/keys/device_signing/upload', bcs.body)).status, 200);
  const signed = signWith(q.body.master_keys[alice.userId], bob.userId, bcs.userSigning);
  const r = await bob.api.post('/keys/signatures/upload', { [alice.userId]: { [cs.master.pub]: signed } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.failures, {}, JSON.stringify(r.body));
  // Bob sees his signature on alice's master key; another user on B does not.
  const mine = await bob.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.ok(mine.body.master_keys[alice.userId].signatures[bob.userId]?.[`ed25519:${bcs.userSigning.pub}`]);
  const dave = await registerUser(fed.servers[1]!.baseUrl, 'dave');
  const theirs = await api(fed.servers[1]!.baseUrl, dave.accessToken).post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.equal(theirs.body.master_keys[alice.userId].signatures?.[bob.userId], undefined);
});

test('one-time keys are claimed across servers, each handed out once', async () => {
  const claim = async () => {
    const r = await bob.api.post('/keys/claim', { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.failures, {});
    const keys = r.body.one_time_keys[alice.userId][alice.deviceId];
    const [id] = Object.keys(keys);
    assert.match(id!, /^signed_curve25519:/);
    assert.ok(keys[id!].signatures[alice.userId][`ed25519:${alice.deviceId}`]);
    return id!;
  };
  const before = (await sync(alice.api)).device_one_time_keys_count.signed_curve25519;
  const ids = [await claim(), await claim(), await claim()];
  assert.equal(new Set(ids).size, 3);
  assert.equal((await sync(alice.api)).device_one_time_keys_count.signed_curve25519, before - 3);
});

test('to-device messages cross servers both ways, and a repeated message_id is delivered once', async () => {
  const aliceSince = (await sync(alice.api)).next_batch;
  const put = await bob.api.put('/sendToDevice/m.test.hello/txn1', { messages: { [alice.userId]: { [alice.deviceId]: { n: 1 } } } });
  assert.equal(put.status, 200);
  const got = await waitFor('alice gets bob’s message', async () => {
    const s = await sync(alice.api, aliceSince, 1000);
    return s.to_device?.events?.length ? s : undefined;
  });
  assert.deepEqual(got.to_device.events, [{ sender: bob.userId, type: 'm.test.hello', content: { n: 1 } }]);

  const bobSince = (await sync(bob.api)).next_batch;
  assert.equal((await alice.api.put('/sendToDevice/m.test.back/t1', { messages: { [bob.userId]: { '*': { hi: 'bob' } } } })).status, 200);
  const back = await waitFor('bob gets alice’s message', async () => {
    const s = await sync(bob.api, bobSince, 1000);
    return s.to_device?.events?.length ? s : undefined;
  });
  assert.deepEqual(back.to_device.events, [{ sender: alice.userId, type: 'm.test.back', content: { hi: 'bob' } }]);

  // The same EDU twice (a sender retrying in a new transaction): one delivery. A forged sender: none.
  const since = back.next_batch;
  const edu = { edu_type: 'm.direct_to_device', content: { sender: alice.userId, type: 'm.test.once', message_id: 'msg-123', messages: { [bob.userId]: { [bob.deviceId]: { x: 1 } } } } };
  await sendEdus(0, 1, [edu]);
  await sendEdus(0, 1, [edu, { edu_type: 'm.direct_to_device', content: { ...edu.content, sender: bob.userId, message_id: 'forged' } }]);
  const s = await sync(bob.api, since, 0);
  assert.deepEqual(s.to_device.events.map((e: { type: string }) => e.type), ['m.test.once']);
});

test('with A down, B answers from its cache; users it shares no room with are not answered', async () => {
  const stranger = await registerUser(fed.servers[0]!.baseUrl, 'stranger');
  await fed.servers[0]!.stop();
  const r = await bob.api.post('/keys/query', { device_keys: { [alice.userId]: [], [stranger.userId]: [] }, timeout: 2000 });
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body.device_keys[alice.userId]), [alice.deviceId]);
  assert.equal(r.body.device_keys[stranger.userId], undefined, 'the uncached user is not answered');
  // Asked alone, the unreachable server is a failure.
  const alone = await bob.api.post('/keys/query', { device_keys: { [stranger.userId]: [] }, timeout: 2000 });
  assert.ok(alone.body.failures[fed.servers[0]!.name]);
});
