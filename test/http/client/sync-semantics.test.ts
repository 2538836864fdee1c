/**
 * /sync semantics over real HTTP, without an SDK: incremental tokens never skip or repeat an
 * event under concurrent sends; long-polls wake on a new event, a typing change and an invite;
 * filters are honoured; a client that was away catches up with a limited timeline, the state it
 * missed, and a prev_batch that leads back to the rest.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { api, createRoom, registerUsers, type Api, type ApiResponse, type TestUser } from '../../helpers/clients.ts';

let ts: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let a: Api;
let b: Api;
let c: Api;

const enc = encodeURIComponent;
let txn = 0;

async function send(client: Api, roomId: string, body: string, type = 'm.room.message'): Promise<string> {
  const r = await client.put(`/rooms/${enc(roomId)}/send/${type}/t${++txn}`, { msgtype: 'm.text', body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.event_id;
}

async function join(client: Api, roomId: string): Promise<void> {
  const r = await client.post(`/join/${enc(roomId)}`, {});
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

function timelineIds(sync: any, roomId: string): string[] {
  return (sync.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e: any) => e.event_id);
}

/** Starts a long-poll from where `client` is now and gives it time to park before anything happens. */
async function parkedLongPoll(client: Api): Promise<{ poll: Promise<ApiResponse>; t0: number }> {
  const since = (await client.get('/sync')).body.next_batch;
  const t0 = Date.now();
  const poll = client.get('/sync', { since, timeout: 20_000 });
  await new Promise((r) => setTimeout(r, 150));
  return { poll, t0 };
}

before(async () => {
  ts = await startTestServer({ open_registration: true, rate_limits: false });
  [alice, bob, carol] = await registerUsers(ts.baseUrl, ['salice', 'sbob', 'scarol']);
  [a, b, c] = [alice, bob, carol].map((u) => api(ts.baseUrl, u.accessToken));
});

after(async () => {
  await ts.cleanup();
});

test('incremental syncs under concurrent sends deliver every event exactly once', async () => {
  const roomId = await createRoom(a);
  await join(b, roomId);
  await join(c, roomId);
  const filter = JSON.stringify({ room: { timeline: { limit: 1000 } } });
  let since = (await b.get('/sync', { filter })).body.next_batch as string;

  const sent: string[] = [];
  let sending = true;
  const senders = [a, b, c].map(async (client, n) => {
    for (let i = 0; i < 60; i++) sent.push(await send(client, roomId, `c${n}-${i}`));
  });
  const all = Promise.all(senders).then(() => (sending = false));

  const seen: string[] = [];
  let rounds = 0;
  while (sending || rounds === 0) {
    const r = await b.get('/sync', { since, filter, timeout: 50 });
    assert.equal(r.status, 200);
    assert.equal(r.body.rooms.join[roomId]?.timeline.limited ?? false, false);
    seen.push(...timelineIds(r.body, roomId));
    since = r.body.next_batch;
    rounds++;
  }
  await all;
  // One more sync picks up whatever committed after the last round.
  const last = await b.get('/sync', { since, filter, timeout: 0 });
  seen.push(...timelineIds(last.body, roomId));

  assert.ok(rounds > 1, 'the reader should have synced several times while sends were running');
  assert.equal(new Set(seen).size, seen.length, 'no event is delivered twice');
  assert.deepEqual([...seen].sort(), [...sent].sort(), 'every sent event is delivered');
});

test('a long-poll wakes at once on a new event', async () => {
  const roomId = await createRoom(a);
  await join(b, roomId);
  const { poll, t0 } = await parkedLongPoll(b);
  const eventId = await send(a, roomId, 'wake up');
  const r = await poll;
  assert.ok(Date.now() - t0 < 5000, 'returned long before the timeout');
  assert.deepEqual(timelineIds(r.body, roomId), [eventId]);
});

test('a long-poll wakes on a typing change', async () => {
  const roomId = await createRoom(a);
  await join(b, roomId);
  const { poll, t0 } = await parkedLongPoll(b);
  assert.equal((await a.put(`/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { typing: true, timeout: 10_000 })).status, 200);
  const r = await poll;
  assert.ok(Date.now() - t0 < 5000);
  const typing = r.body.rooms.join[roomId].ephemeral.events.find((e: any) => e.type === 'm.typing');
  assert.deepEqual(typing.content.user_ids, [alice.userId]);

  // And when it stops.
  const poll2 = b.get('/sync', { since: r.body.next_batch, timeout: 20_000 });
  await new Promise((r2) => setTimeout(r2, 100));
  await a.put(`/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { typing: false });
  const r2 = await poll2;
  assert.deepEqual(r2.body.rooms.join[roomId].ephemeral.events.find((e: any) => e.type === 'm.typing').content.user_ids, []);
});

test('a long-poll wakes on an invite, with invite_state', async () => {
  const roomId = await createRoom(a, { preset: 'private_chat', name: 'Secret' });
  const { poll } = await parkedLongPoll(c);
  const t0 = Date.now();
  assert.equal((await a.post(`/rooms/${enc(roomId)}/invite`, { user_id: carol.userId })).status, 200);
  const r = await poll;
  assert.ok(Date.now() - t0 < 5000);
  const inv = r.body.rooms.invite[roomId];
  assert.ok(inv, 'room appears under invite');
  const types = inv.invite_state.events.map((e: any) => e.type);
  assert.ok(types.includes('m.room.name') && types.includes('m.room.create') && types.includes('m.room.member'));
  const me = inv.invite_state.events.find((e: any) => e.type === 'm.room.member');
  assert.equal(me.state_key, carol.userId);
  assert.equal(me.content.membership, 'invite');
});

test('a long-poll with nothing to report times out with an empty response', async () => {
  const since = (await a.get('/sync')).body.next_batch;
  const t0 = Date.now();
  const r = await a.get('/sync', { since, timeout: 300 });
  assert.ok(Date.now() - t0 >= 280);
  assert.deepEqual(r.body.rooms.join, {});
  assert.ok(typeof r.body.next_batch === 'string');
});

test('filters: timeline limit, types, senders, lazy-loaded members, stored filters', async () => {
  const roomId = await createRoom(a, { name: 'filters' });
  await join(b, roomId);
  await join(c, roomId);
  for (let i = 0; i < 6; i++) await send(a, roomId, `a${i}`);
  await send(b, roomId, 'from bob');
  await a.put(`/rooms/${enc(roomId)}/send/org.example.custom/t${++txn}`, { x: 1 });

  // timeline.limit → limited with prev_batch.
  const lim = await c.get('/sync', { filter: JSON.stringify({ room: { rooms: [roomId], timeline: { limit: 3 } } }) });
  const tl = lim.body.rooms.join[roomId].timeline;
  assert.equal(tl.events.length, 3);
  assert.equal(tl.limited, true);
  assert.match(tl.prev_batch, /^s\d+$/);
  // rooms filter: only that room.
  assert.deepEqual(Object.keys(lim.body.rooms.join), [roomId]);

  // types and not_types, senders.
  const types = await c.get('/sync', { filter: JSON.stringify({ room: { rooms: [roomId], timeline: { types: ['m.room.message'], limit: 50 } } }) });
  const tEvents = types.body.rooms.join[roomId].timeline.events;
  assert.ok(tEvents.length >= 7 && tEvents.every((e: any) => e.type === 'm.room.message'));
  const notTypes = await c.get('/sync', { filter: JSON.stringify({ room: { rooms: [roomId], timeline: { not_types: ['m.room.*'], limit: 50 } } }) });
  assert.deepEqual(notTypes.body.rooms.join[roomId].timeline.events.map((e: any) => e.type), ['org.example.custom']);
  const senders = await c.get('/sync', { filter: JSON.stringify({ room: { rooms: [roomId], timeline: { senders: [bob.userId], limit: 50 } } }) });
  assert.ok(senders.body.rooms.join[roomId].timeline.events.every((e: any) => e.sender === bob.userId));

  // lazy_load_members: only the members who sent timeline events (and the user).
  const lazy = await c.get('/sync', {
    filter: JSON.stringify({ room: { rooms: [roomId], timeline: { limit: 1, types: ['m.room.message'] }, state: { lazy_load_members: true } } }),
  });
  const room = lazy.body.rooms.join[roomId];
  const members = room.state.events.filter((e: any) => e.type === 'm.room.member').map((e: any) => e.state_key).sort();
  assert.deepEqual(members, [bob.userId, carol.userId].sort());
  assert.equal(room.summary['m.joined_member_count'], 3);

  // A stored filter is honoured like an inline one.
  const created = await c.post(`/user/${enc(carol.userId)}/filter`, { room: { rooms: [roomId], timeline: { limit: 2 } } });
  assert.equal(created.status, 200);
  const got = await c.get(`/user/${enc(carol.userId)}/filter/${created.body.filter_id}`);
  assert.deepEqual(got.body.room.timeline, { limit: 2 });
  const stored = await c.get('/sync', { filter: created.body.filter_id });
  assert.equal(stored.body.rooms.join[roomId].timeline.events.length, 2);
  // Errors: unknown filter, malformed filter.
  assert.equal((await c.get('/sync', { filter: '999' })).status, 404);
  assert.equal((await c.get('/sync', { filter: '{"room": {"timeline": {"limit": "x"}}}' })).body.errcode, 'M_BAD_JSON');
});

test('include_leave and newly left rooms', async () => {
  const roomId = await createRoom(a);
  await join(b, roomId);
  const since = (await b.get('/sync')).body.next_batch;
  assert.equal((await b.post(`/rooms/${enc(roomId)}/leave`, {})).status, 200);
  // Incremental: the room is under leave with the leave event.
  const inc = await b.get('/sync', { since });
  const left = inc.body.rooms.leave[roomId];
  assert.ok(left);
  assert.equal(left.timeline.events.at(-1).content.membership, 'leave');
  assert.equal(inc.body.rooms.join[roomId], undefined);
  // Initial sync: only with include_leave.
  assert.equal((await b.get('/sync')).body.rooms.leave[roomId], undefined);
  const withLeave = await b.get('/sync', { filter: JSON.stringify({ room: { include_leave: true } }) });
  assert.ok(withLeave.body.rooms.leave[roomId]);
  // Messages after leaving are not visible to bob.
  await send(a, roomId, 'after bob left');
  const later = await b.get('/sync', { since: inc.body.next_batch, timeout: 0 });
  assert.equal(later.body.rooms.leave[roomId], undefined);
  assert.equal(later.body.rooms.join[roomId], undefined);
});

test('a client offline for a long time gets a limited timeline, the missed state and a working prev_batch', async () => {
  const roomId = await createRoom(a, { name: 'before' });
  await join(b, roomId);
  const filter = JSON.stringify({ room: { timeline: { limit: 5 } } });
  const since = (await b.get('/sync', { filter })).body.next_batch;

  const sent: string[] = [];
  for (let i = 0; i < 20; i++) sent.push(await send(a, roomId, `m${i}`));
  assert.equal((await a.put(`/rooms/${enc(roomId)}/state/m.room.name`, { name: 'after' })).status, 200);
  for (let i = 20; i < 40; i++) sent.push(await send(a, roomId, `m${i}`));

  const r = await b.get('/sync', { since, filter });
  const room = r.body.rooms.join[roomId];
  assert.equal(room.timeline.limited, true);
  assert.deepEqual(room.timeline.events.map((e: any) => e.event_id), sent.slice(-5));
  // The rename happened in the gap: it is in state.
  const name = room.state.events.find((e: any) => e.type === 'm.room.name');
  assert.equal(name?.content.name, 'after');
  // prev_batch leads back through the gap in order to where the client left off.
  const back = await b.get(`/rooms/${enc(roomId)}/messages`, { dir: 'b', from: room.timeline.prev_batch, limit: 100, to: since.split('_')[0] });
  const bodies = back.body.chunk.filter((e: any) => e.type === 'm.room.message').map((e: any) => e.content.body).reverse();
  assert.deepEqual(bodies, Array.from({ length: 35 }, (_, i) => `m${i}`));
});

test('bad sync parameters are refused with the spec errors', async () => {
  assert.equal((await a.get('/sync', { since: 'garbage!' })).body.errcode, 'M_INVALID_PARAM');
  assert.equal((await a.get('/sync', { timeout: 'soon' })).body.errcode, 'M_INVALID_PARAM');
  assert.equal((await a.get('/sync', { set_presence: 'dancing' })).body.errcode, 'M_INVALID_PARAM');
  assert.equal((await api(ts.baseUrl, null).get('/sync')).body.errcode, 'M_MISSING_TOKEN');
});

test('lazy-loading members: a quiet room does not end a long-poll; state hidden by a timeline filter still arrives', async () => {
  const roomId = await createRoom(a);
  await join(b, roomId);
  const filter = JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { types: ['m.room.message'] } } });
  const since = (await b.get('/sync', { filter })).body.next_batch;
  const t0 = Date.now();
  const quiet = await b.get('/sync', { since, filter, timeout: 400 });
  assert.ok(Date.now() - t0 >= 380, 'nothing changed: the long-poll waits for its timeout');
  assert.deepEqual(quiet.body.rooms.join, {});
  // A rename is not a message, so the timeline filter drops it; it arrives as state instead.
  assert.equal((await a.put(`/rooms/${enc(roomId)}/state/m.room.name`, { name: 'renamed' })).status, 200);
  const r = await b.get('/sync', { since: quiet.body.next_batch, filter, timeout: 5000 });
  const room = r.body.rooms.join[roomId];
  assert.deepEqual(room.timeline.events, []);
  assert.equal(room.state.events.find((e: any) => e.type === 'm.room.name')?.content.name, 'renamed');
});
