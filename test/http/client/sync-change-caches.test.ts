/**
 * /sync skips the queries of streams where nothing changed for the user (in-memory change
 * caches: to-device inboxes, one-time key counts, membership for device_lists). These tests warm
 * those caches with quiet incremental syncs first, then change something, and check the next
 * incremental sync still reports it. Also: many concurrent long-polls return at shutdown without
 * piling listeners onto the shutdown signal.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { api, registerUser, type Api, type TestUser } from '../../helpers/clients.ts';
import { newMember, sync, withDeviceKeys, type Member } from './e2ee/e2ee-helpers.ts';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ open_registration: true });
});
after(async () => {
  await srv.cleanup();
});

const member = (): Promise<Member> => newMember(srv.baseUrl);

/** Syncs until nothing is pending, then twice more (the second quiet sync runs from the caches). */
async function quiet(c: Api, since?: string): Promise<string> {
  let token = (await sync(c, since)).next_batch as string;
  for (let i = 0; i < 3; i++) token = (await sync(c, token)).next_batch;
  return token;
}

let txn = 0;
function toDevice(from: Api, to: TestUser, content: Record<string, unknown>) {
  return from.put(`/sendToDevice/m.test/c${++txn}`, { messages: { [to.userId]: { [to.deviceId]: content } } });
}

test('to-device: after quiet syncs a new message still wakes the long-poll, is delivered, and is acknowledged by the next token', async () => {
  const alice = await member();
  const bob = await member();
  const since = await quiet(bob.c);

  const poll = sync(bob.c, since, 10_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await toDevice(alice.c, bob, { n: 1 })).status, 200);
  const got = await poll;
  assert.deepEqual(got.to_device.events, [{ sender: alice.userId, type: 'm.test', content: { n: 1 } }]);
  // A retry with the old token sees it again (not yet acknowledged).
  assert.deepEqual((await sync(bob.c, since)).to_device.events, got.to_device.events);
  // The next token acknowledges it; later quiet syncs stay empty.
  const next = await quiet(bob.c, got.next_batch);
  assert.deepEqual((await sync(bob.c, since)).to_device.events, [], 'acknowledged, so gone even for the old token');

  assert.equal((await toDevice(alice.c, bob, { n: 2 })).status, 200);
  assert.deepEqual((await sync(bob.c, next)).to_device.events.map((e: any) => e.content.n), [2]);
});

test('one-time key counts and fallback key types follow uploads and claims between quiet syncs', async () => {
  const alice = await member();
  const bob = await withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl), 3);
  const count = (s: any) => s.device_one_time_keys_count?.signed_curve25519;

  let since = await quiet(bob.api);
  assert.equal(count(await sync(bob.api, since)), 3);

  const claim = () => alice.c.post('/keys/claim', { one_time_keys: { [bob.userId]: { [bob.deviceId]: 'signed_curve25519' } } });
  assert.equal((await claim()).status, 200);
  let s = await sync(bob.api, since);
  assert.equal(count(s), 2, 'a claim by someone else shows in the next sync');
  since = await quiet(bob.api, s.next_batch);

  assert.equal((await bob.api.post('/keys/upload', { one_time_keys: bob.device.oneTimeKeys(2), fallback_keys: bob.device.fallbackKey() })).status, 200);
  s = await sync(bob.api, since);
  assert.equal(count(s), 4);
  assert.deepEqual(s.device_unused_fallback_key_types, ['signed_curve25519']);
  since = await quiet(bob.api, s.next_batch);

  for (let i = 0; i < 5; i++) assert.equal((await claim()).status, 200); // 4 one-time keys, then the fallback key
  s = await sync(bob.api, since);
  assert.equal(count(s), 0);
  assert.deepEqual(s.device_unused_fallback_key_types, [], 'the fallback key was handed out');
});

test('device_lists: a window with only messages has no changes; a join and a leave after quiet syncs are reported', async () => {
  const bob = await member();
  const other = await member();
  const carol = await member();
  const r = await bob.c.post('/createRoom', { preset: 'public_chat' });
  const roomId = r.body.room_id as string;
  assert.equal((await other.c.post(`/join/${encodeURIComponent(roomId)}`)).status, 200);
  const since = await quiet(bob.c);

  assert.equal((await other.c.put(`/rooms/${encodeURIComponent(roomId)}/send/m.room.message/m1`, { msgtype: 'm.text', body: 'hi' })).status, 200);
  const msg = await sync(bob.c, since);
  assert.equal(msg.rooms.join[roomId].timeline.events.length, 1);
  assert.deepEqual(msg.device_lists ?? { changed: [], left: [] }, { changed: [], left: [] });
  const t1 = await quiet(bob.c, msg.next_batch);

  assert.equal((await carol.c.post(`/join/${encodeURIComponent(roomId)}`)).status, 200);
  const joined = await sync(bob.c, t1);
  assert.ok(joined.device_lists.changed.includes(carol.userId), 'bob hears carol joined');
  const t2 = await quiet(bob.c, joined.next_batch);

  assert.equal((await carol.c.post(`/rooms/${encodeURIComponent(roomId)}/leave`)).status, 200);
  const left = await sync(bob.c, t2);
  assert.ok(left.device_lists.left.includes(carol.userId), 'bob no longer shares a room with carol');

  // Carol's own membership (a room bob is not in) shows in carol's own sync.
  const c0 = await quiet(carol.c);
  const r2 = await other.c.post('/createRoom', { preset: 'public_chat' });
  assert.equal((await carol.c.post(`/join/${encodeURIComponent(r2.body.room_id)}`)).status, 200);
  assert.ok((await sync(carol.c, c0)).device_lists.changed.includes(other.userId), 'carol newly shares a room with other');

  // Bob's own leave of the only room he shares with other (a room he is no longer in).
  const b3 = await quiet(bob.c);
  assert.equal((await bob.c.post(`/rooms/${encodeURIComponent(roomId)}/leave`)).status, 200);
  assert.ok((await sync(bob.c, b3)).device_lists.left.includes(other.userId), 'bob left his only room with other');
});

test('many concurrent long-polls add no listener per request to the shutdown signal, and all return when the server stops', async () => {
  const own = await startTestServer({ open_registration: true });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    const users = await Promise.all(Array.from({ length: 3 }, () => registerUser(own.baseUrl)));
    const clients = users.map((u) => api(own.baseUrl, u.accessToken));
    const tokens = await Promise.all(clients.map(async (c) => (await sync(c)).next_batch as string));
    const t0 = Date.now();
    const polls = Array.from({ length: 24 }, (_, i) => sync(clients[i % clients.length]!, tokens[i % clients.length], 30_000));
    // Stop only once every request is parked (a request still in flight at close can be reset).
    for (const deadline = Date.now() + 10_000; own.server.services.notifier.waitingRequests < polls.length; ) {
      assert.ok(Date.now() < deadline, 'the long-polls were parked');
      await new Promise((r) => setTimeout(r, 20));
    }
    await own.stop();
    const results = await Promise.allSettled(polls);
    assert.ok(Date.now() - t0 < 10_000, 'the long-polls ended with the server, not at their 30 s timeout');
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, polls.length, 'every long-poll got a response');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => /MaxListeners|listeners added/.test(w)), []);
  } finally {
    process.off('warning', onWarning);
    await own.cleanup();
  }
});

test('receipts and account data: after quiet syncs (and changes elsewhere) a change for the user is still delivered', async () => {
  const bob = await member();
  const alice = await member();
  const stranger = await member();
  const roomId = (await bob.c.post('/createRoom', { preset: 'public_chat' })).body.room_id as string;
  const elsewhere = (await stranger.c.post('/createRoom', { preset: 'public_chat' })).body.room_id as string;
  assert.equal((await alice.c.post(`/join/${encodeURIComponent(roomId)}`)).status, 200);
  const sent = await bob.c.put(`/rooms/${encodeURIComponent(roomId)}/send/m.room.message/r1`, { msgtype: 'm.text', body: 'read me' });
  const other = await stranger.c.put(`/rooms/${encodeURIComponent(elsewhere)}/send/m.room.message/r2`, { msgtype: 'm.text', body: 'x' });
  let since = await quiet(bob.c);

  // A receipt and account data of someone else, in a room bob is not in: nothing for bob.
  assert.equal((await stranger.c.post(`/rooms/${encodeURIComponent(elsewhere)}/receipt/m.read/${encodeURIComponent(other.body.event_id)}`, {})).status, 200);
  assert.equal((await stranger.c.put(`/user/${encodeURIComponent(stranger.userId)}/account_data/m.test`, { x: 1 })).status, 200);
  const none = await sync(bob.c, since);
  assert.equal(none.rooms?.join?.[roomId], undefined);
  assert.deepEqual(none.account_data?.events ?? [], []);
  since = await quiet(bob.c, none.next_batch);

  assert.equal((await alice.c.post(`/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(sent.body.event_id)}`, {})).status, 200);
  const r = await sync(bob.c, since);
  const receipt = r.rooms.join[roomId].ephemeral.events.find((e: any) => e.type === 'm.receipt');
  assert.ok(receipt?.content[sent.body.event_id]['m.read'][alice.userId], 'alice read receipt reaches bob');
  since = await quiet(bob.c, r.next_batch);

  assert.equal((await bob.c.put(`/user/${encodeURIComponent(bob.userId)}/account_data/m.test`, { y: 2 })).status, 200);
  const a = await sync(bob.c, since);
  assert.deepEqual(a.account_data.events.filter((e: any) => e.type === 'm.test'), [{ type: 'm.test', content: { y: 2 } }]);
});
