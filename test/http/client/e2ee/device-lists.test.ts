/**
 * device_lists in /sync and GET /keys/changes (end_to_end_encryption.md "Tracking the device
 * list for a user", "Extensions to /sync"; keys.yaml): who hears about device and key changes,
 * and about users they newly share a room with or no longer share any room with. Also the
 * one-time key count and unused fallback key types every sync carries.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../helpers/server.ts';
import { api, registerUser } from '../../../helpers/clients.ts';
import { crossSigningSet, loginAgain, newMember, sync, withDeviceKeys, type Member } from './e2ee-helpers.ts';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ open_registration: true });
});
after(async () => {
  await srv.cleanup();
});

const member = (): Promise<Member> => newMember(srv.baseUrl);

async function room(creator: Member, ...joiners: Member[]): Promise<string> {
  const r = await creator.c.post('/createRoom', { preset: 'public_chat' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  for (const j of joiners) assert.equal((await j.c.post(`/join/${encodeURIComponent(r.body.room_id)}`)).status, 200);
  return r.body.room_id;
}

test('a new device with keys is "changed" for users sharing a room, and for the owner; not for strangers', async () => {
  const alice = await member();
  const bob = await member();
  const carol = await member();
  await room(alice, bob);
  const [b0, c0, a0] = await Promise.all([sync(bob.c), sync(carol.c), sync(alice.c)]);
  assert.equal(b0.device_lists?.changed?.length ?? 0, 0, 'an initial sync has no device_lists changes');

  const alice2 = await loginAgain(srv.baseUrl, alice);
  await withDeviceKeys(srv.baseUrl, alice2);
  assert.ok((await sync(bob.c, b0.next_batch)).device_lists.changed.includes(alice.userId));
  assert.ok((await sync(alice.c, a0.next_batch)).device_lists.changed.includes(alice.userId), 'own devices see own changes');
  assert.ok(!(await sync(carol.c, c0.next_batch)).device_lists.changed.includes(alice.userId));

  const changes = await bob.c.get('/keys/changes', { from: b0.next_batch, to: (await sync(bob.c)).next_batch });
  assert.equal(changes.status, 200);
  assert.ok(changes.body.changed.includes(alice.userId));
  assert.deepEqual(changes.body.left, []);
});

test('deleting a device is reflected in device_lists', async () => {
  const alice = await member();
  const bob = await member();
  await room(bob, alice);
  const alice2 = await withDeviceKeys(srv.baseUrl, await loginAgain(srv.baseUrl, alice));
  const b0 = await sync(bob.c);
  assert.equal((await alice2.api.post('/logout')).status, 200);
  const b1 = await sync(bob.c, b0.next_batch);
  assert.ok(b1.device_lists.changed.includes(alice.userId));
  const q = await bob.c.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.equal(q.body.device_keys[alice.userId][alice2.deviceId], undefined);
});

test('joining a room with someone new is "changed" both ways; leaving the only shared room is "left"', async () => {
  const bob = await member();
  const carol = await member();
  const other = await member();
  const roomId = await room(bob, other);
  const [b0, c0] = await Promise.all([sync(bob.c), sync(carol.c)]);

  assert.equal((await carol.c.post(`/join/${encodeURIComponent(roomId)}`)).status, 200);
  const b1 = await sync(bob.c, b0.next_batch);
  assert.ok(b1.device_lists.changed.includes(carol.userId), 'bob hears carol joined');
  const c1 = await sync(carol.c, c0.next_batch);
  assert.ok(c1.device_lists.changed.includes(bob.userId), 'carol must fetch the devices of everyone in the room she joined');
  assert.ok(c1.device_lists.changed.includes(other.userId));

  // A profile change (join → join) is not a new shared room.
  const profile = await carol.c.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(carol.userId)}`, {
    membership: 'join',
    displayname: 'Carol',
  });
  assert.equal(profile.status, 200, JSON.stringify(profile.body));
  const b2 = await sync(bob.c, b1.next_batch);
  assert.ok(!(b2.device_lists?.changed ?? []).includes(carol.userId));

  assert.equal((await carol.c.post(`/rooms/${encodeURIComponent(roomId)}/leave`)).status, 200);
  const b3 = await sync(bob.c, b2.next_batch);
  assert.ok(b3.device_lists.left.includes(carol.userId), 'bob no longer shares a room with carol');
  const c2 = await sync(carol.c, c1.next_batch);
  assert.ok(c2.device_lists.left.includes(bob.userId) && c2.device_lists.left.includes(other.userId));

  const changes = await bob.c.get('/keys/changes', { from: b0.next_batch, to: b3.next_batch });
  assert.ok(changes.body.left.includes(carol.userId));
});

test('leaving one of two shared rooms is not "left"', async () => {
  const bob = await member();
  const carol = await member();
  const r1 = await room(bob, carol);
  await room(bob, carol);
  const b0 = await sync(bob.c);
  await carol.c.post(`/rooms/${encodeURIComponent(r1)}/leave`);
  const b1 = await sync(bob.c, b0.next_batch);
  assert.ok(!(b1.device_lists?.left ?? []).includes(carol.userId));
});

test('new cross-signing keys are "changed" for room members', async () => {
  const alice = await member();
  const bob = await member();
  await room(alice, bob);
  const b0 = await sync(bob.c);
  assert.equal((await alice.c.post('/keys/device_signing/upload', crossSigningSet(alice.userId).body)).status, 200);
  assert.ok((await sync(bob.c, b0.next_batch)).device_lists.changed.includes(alice.userId));
});

test('a waiting /sync wakes up on a device list change', async () => {
  const alice = await member();
  const bob = await member();
  await room(alice, bob);
  const b0 = await sync(bob.c);
  const started = Date.now();
  const waiting = sync(bob.c, b0.next_batch, 20_000);
  await new Promise((r) => setTimeout(r, 200));
  await withDeviceKeys(srv.baseUrl, await loginAgain(srv.baseUrl, alice));
  const res = await waiting;
  assert.ok(res.device_lists.changed.includes(alice.userId));
  assert.ok(Date.now() - started < 10_000);
});

test('sync reports one-time key counts and unused fallback key types', async () => {
  const alice = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl), 3);
  const claimer = await member();
  const s0 = await sync(alice.api);
  assert.deepEqual(s0.device_one_time_keys_count, { signed_curve25519: 3 });
  assert.deepEqual(s0.device_unused_fallback_key_types, []);

  const fb = alice.device.fallbackKey('F1');
  await alice.api.post('/keys/upload', { fallback_keys: fb });
  assert.deepEqual((await sync(alice.api, s0.next_batch)).device_unused_fallback_key_types, ['signed_curve25519']);

  const claim = { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } };
  for (let i = 0; i < 4; i++) await claimer.c.post('/keys/claim', claim);
  const s1 = await sync(alice.api, s0.next_batch);
  assert.deepEqual(s1.device_one_time_keys_count, { signed_curve25519: 0 });
  assert.deepEqual(s1.device_unused_fallback_key_types, [], 'the fallback key was handed out');

  await alice.api.post('/keys/upload', { fallback_keys: fb });
  assert.deepEqual((await sync(alice.api, s1.next_batch)).device_unused_fallback_key_types, [], 're-uploading the used key keeps it used');
  await alice.api.post('/keys/upload', { fallback_keys: alice.device.fallbackKey('F2') });
  assert.deepEqual((await sync(alice.api, s1.next_batch)).device_unused_fallback_key_types, ['signed_curve25519']);
});

test('/keys/changes needs a valid from token', async () => {
  const bob = await member();
  assert.equal((await bob.c.get('/keys/changes')).body.errcode, 'M_MISSING_PARAM');
  assert.equal((await bob.c.get('/keys/changes', { from: 'garbage!', to: 'x' })).status, 400);
});
