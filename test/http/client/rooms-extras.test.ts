/**
 * The rest of the rooms area over real HTTP: account data and tags, receipts and unread counts
 * from push rules (notifications, highlights on mentions, reset by a read receipt), read markers,
 * ignored users, profiles propagated into rooms, presence, aliases and the room directory, the
 * user directory, full-text search, relations and threads, room upgrades, reports, and the event
 * graph rows the triggers maintain.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { api, createRoom, registerUser, registerUsers, type Api, type TestUser } from '../../helpers/clients.ts';

let ts: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let a: Api;
let b: Api;
let c: Api;
const enc = encodeURIComponent;
let txn = 0;

before(async () => {
  ts = await startTestServer({ open_registration: true, rate_limits: false });
  [alice, bob, carol] = await registerUsers(ts.baseUrl, ['xalice', 'xbob', 'xcarol']);
  [a, b, c] = [alice, bob, carol].map((u) => api(ts.baseUrl, u.accessToken));
});

after(async () => {
  await ts.cleanup();
});

async function send(client: Api, roomId: string, content: Record<string, unknown>, type = 'm.room.message'): Promise<string> {
  const r = await client.put(`/rooms/${enc(roomId)}/send/${type}/e${++txn}`, content);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.event_id;
}

const text = (body: string, extra: Record<string, unknown> = {}) => ({ msgtype: 'm.text', body, ...extra });

test('account data (global and per room) and tags, visible in /sync', async () => {
  const roomId = await createRoom(a);
  const since = (await a.get('/sync')).body.next_batch;
  assert.equal((await a.put(`/user/${enc(alice.userId)}/account_data/org.example.settings`, { theme: 'dark' })).status, 200);
  assert.deepEqual((await a.get(`/user/${enc(alice.userId)}/account_data/org.example.settings`)).body, { theme: 'dark' });
  assert.equal((await a.put(`/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/org.example.room`, { x: 1 })).status, 200);
  assert.equal((await a.put(`/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags/m.favourite`, { order: 0.5 })).status, 200);
  assert.deepEqual((await a.get(`/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`)).body, { tags: { 'm.favourite': { order: 0.5 } } });

  const s = await a.get('/sync', { since });
  assert.deepEqual(s.body.account_data.events.find((e: any) => e.type === 'org.example.settings').content, { theme: 'dark' });
  const roomData = s.body.rooms.join[roomId].account_data.events;
  assert.deepEqual(roomData.find((e: any) => e.type === 'm.tag').content, { tags: { 'm.favourite': { order: 0.5 } } });
  assert.ok(roomData.some((e: any) => e.type === 'org.example.room'));

  assert.equal((await a.delete(`/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags/m.favourite`)).status, 200);
  assert.deepEqual((await a.get(`/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`)).body, { tags: {} });

  // Errors: other users' data, server-managed types, unknown data.
  assert.equal((await b.put(`/user/${enc(alice.userId)}/account_data/x`, {})).status, 403);
  const managed = await a.put(`/user/${enc(alice.userId)}/account_data/m.fully_read`, {});
  assert.equal(managed.status, 405);
  assert.equal(managed.body.errcode, 'M_BAD_JSON');
  assert.equal((await a.get(`/user/${enc(alice.userId)}/account_data/org.example.none`)).status, 404);
  // The initial sync shows the push rules as m.push_rules.
  const initial = await a.get('/sync');
  assert.ok(initial.body.account_data.events.find((e: any) => e.type === 'm.push_rules').content.global.override.length > 0);
});

test('unread counts follow push rules and read receipts; mentions highlight', async () => {
  const roomId = await createRoom(a);
  assert.equal((await b.post(`/join/${enc(roomId)}`, {})).status, 200);
  assert.equal((await c.post(`/join/${enc(roomId)}`, {})).status, 200);
  const first = await send(a, roomId, text('one'));
  await send(a, roomId, text('two'));
  await send(a, roomId, text('hey bob', { 'm.mentions': { user_ids: [bob.userId] } }));
  await send(a, roomId, { msgtype: 'm.notice', body: 'a notice does not count' });
  let s = await b.get('/sync');
  assert.deepEqual(s.body.rooms.join[roomId].unread_notifications, { notification_count: 3, highlight_count: 1 });
  // Carol was not mentioned.
  s = await c.get('/sync');
  assert.deepEqual(s.body.rooms.join[roomId].unread_notifications, { notification_count: 3, highlight_count: 0 });
  // The sender's own messages never count for them.
  s = await a.get('/sync');
  assert.deepEqual(s.body.rooms.join[roomId].unread_notifications, { notification_count: 0, highlight_count: 0 });

  // A receipt for the first message leaves two; one for the last clears everything.
  const since = s.body.next_batch;
  assert.equal((await b.post(`/rooms/${enc(roomId)}/receipt/m.read/${enc(first)}`, {})).status, 200);
  s = await b.get('/sync');
  assert.equal(s.body.rooms.join[roomId].unread_notifications.notification_count, 2);
  const last = await send(a, roomId, text('three'));
  assert.equal((await b.post(`/rooms/${enc(roomId)}/read_markers`, { 'm.fully_read': last, 'm.read.private': last })).status, 200);
  s = await b.get('/sync');
  assert.deepEqual(s.body.rooms.join[roomId].unread_notifications, { notification_count: 0, highlight_count: 0 });
  assert.equal(s.body.rooms.join[roomId].account_data.events.find((e: any) => e.type === 'm.fully_read').content.event_id, last);

  // Alice sees bob's public receipt; never his private one.
  const as = await a.get('/sync', { since });
  const receipts = as.body.rooms.join[roomId].ephemeral.events.filter((e: any) => e.type === 'm.receipt');
  const all = JSON.stringify(receipts);
  assert.ok(all.includes(first) && all.includes('m.read'));
  assert.ok(!all.includes('m.read.private'));
  // Threaded receipts are accepted and reported with thread_id.
  assert.equal((await b.post(`/rooms/${enc(roomId)}/receipt/m.read/${enc(last)}`, { thread_id: 'main' })).status, 200);
  // Bad receipts.
  assert.equal((await b.post(`/rooms/${enc(roomId)}/receipt/m.bogus/${enc(last)}`, {})).body.errcode, 'M_BAD_JSON');
  assert.equal((await b.post(`/rooms/${enc(roomId)}/receipt/m.read/${enc('$nope')}`, {})).status, 404);
});

test('ignored users: their messages disappear from sync and /messages', async () => {
  const roomId = await createRoom(a);
  await c.post(`/join/${enc(roomId)}`, {});
  assert.equal((await c.put(`/user/${enc(carol.userId)}/account_data/m.ignored_user_list`, { ignored_users: { [alice.userId]: {} } })).status, 200);
  await send(a, roomId, text('ignore me'));
  const s = await c.get('/sync');
  assert.ok(!JSON.stringify(s.body.rooms.join[roomId].timeline.events).includes('ignore me'));
  const m = await c.get(`/rooms/${enc(roomId)}/messages`, { dir: 'b', limit: 50 });
  assert.ok(!JSON.stringify(m.body.chunk).includes('ignore me'));
  await c.put(`/user/${enc(carol.userId)}/account_data/m.ignored_user_list`, { ignored_users: {} });
});

test('profiles: set, read, propagated into member events of joined rooms', async () => {
  const r1 = await createRoom(a);
  const r2 = await createRoom(a);
  assert.equal((await a.put(`/profile/${enc(alice.userId)}/displayname`, { displayname: 'Alice A.' })).status, 200);
  assert.equal((await a.put(`/profile/${enc(alice.userId)}/avatar_url`, { avatar_url: 'mxc://localhost/abc' })).status, 200);
  assert.deepEqual((await b.get(`/profile/${enc(alice.userId)}`)).body, { displayname: 'Alice A.', avatar_url: 'mxc://localhost/abc' });
  assert.deepEqual((await b.get(`/profile/${enc(alice.userId)}/displayname`)).body, { displayname: 'Alice A.' });
  for (const r of [r1, r2]) {
    const m = await a.get(`/rooms/${enc(r)}/state/m.room.member/${enc(alice.userId)}`);
    assert.equal(m.body.displayname, 'Alice A.');
    assert.equal(m.body.avatar_url, 'mxc://localhost/abc');
  }
  assert.equal((await b.put(`/profile/${enc(alice.userId)}/displayname`, { displayname: 'x' })).status, 403);
  assert.equal((await a.put(`/profile/${enc(alice.userId)}/displayname`, { displayname: 5 })).body.errcode, 'M_BAD_JSON');
  assert.equal((await a.get(`/profile/${enc('@nobody:localhost')}`)).status, 404);
});

test('presence: set, get, and seen by users sharing a room', async () => {
  const roomId = await createRoom(a);
  await b.post(`/join/${enc(roomId)}`, {});
  const since = (await b.get('/sync')).body.next_batch;
  assert.equal((await a.put(`/presence/${enc(alice.userId)}/status`, { presence: 'unavailable', status_msg: 'lunch' })).status, 200);
  const got = await b.get(`/presence/${enc(alice.userId)}/status`);
  assert.equal(got.body.presence, 'unavailable');
  assert.equal(got.body.status_msg, 'lunch');
  const s = await b.get('/sync', { since, timeout: 2000 });
  const ev = s.body.presence.events.find((e: any) => e.sender === alice.userId);
  assert.equal(ev?.content.presence, 'unavailable');
  assert.equal((await a.put(`/presence/${enc(alice.userId)}/status`, { presence: 'sleepy' })).body.errcode, 'M_BAD_JSON');
  assert.equal((await b.put(`/presence/${enc(alice.userId)}/status`, { presence: 'online' })).status, 403);
});

test('aliases and the public room directory', async () => {
  const roomId = await createRoom(a, { name: 'Gardening club', topic: 'tomatoes and more', visibility: 'public' });
  const priv = await createRoom(a, { name: 'Hidden', preset: 'private_chat' });
  // Aliases: create, resolve, list, conflict, delete permissions.
  assert.equal((await a.put(`/directory/room/${enc('#garden:localhost')}`, { room_id: roomId })).status, 200);
  assert.deepEqual((await b.get(`/directory/room/${enc('#garden:localhost')}`)).body, { room_id: roomId, servers: ['localhost'] });
  assert.equal((await a.put(`/directory/room/${enc('#garden:localhost')}`, { room_id: priv })).status, 409);
  assert.equal((await a.put(`/directory/room/${enc('#x:elsewhere')}`, { room_id: roomId })).status, 400);
  assert.deepEqual((await a.get(`/rooms/${enc(roomId)}/aliases`)).body.aliases, ['#garden:localhost']);
  assert.equal((await b.delete(`/directory/room/${enc('#garden:localhost')}`)).status, 403);
  // The directory: listed, searchable, paginated; visibility readable and changeable.
  assert.deepEqual((await b.get(`/directory/list/room/${enc(roomId)}`)).body, { visibility: 'public' });
  assert.deepEqual((await b.get(`/directory/list/room/${enc(priv)}`)).body, { visibility: 'private' });
  const list = await api(ts.baseUrl).get('/publicRooms');
  const entry = list.body.chunk.find((r: any) => r.room_id === roomId);
  assert.equal(entry.name, 'Gardening club');
  assert.equal(entry.topic, 'tomatoes and more');
  assert.equal(entry.num_joined_members, 1);
  assert.equal(entry.join_rule, 'public');
  assert.ok(!list.body.chunk.some((r: any) => r.room_id === priv));
  const search = await b.post('/publicRooms', { filter: { generic_search_term: 'TOMATO' } });
  assert.deepEqual(search.body.chunk.map((r: any) => r.room_id), [roomId]);
  assert.equal((await b.put(`/directory/list/room/${enc(priv)}`, { visibility: 'public' })).status, 403);
  assert.equal((await a.put(`/directory/list/room/${enc(priv)}`, { visibility: 'public' })).status, 200);
  const page1 = await b.post('/publicRooms', { limit: 1 });
  assert.equal(page1.body.chunk.length, 1);
  const page2 = await b.post('/publicRooms', { limit: 1, since: page1.body.next_batch });
  assert.notEqual(page2.body.chunk[0].room_id, page1.body.chunk[0].room_id);
  assert.equal((await a.delete(`/directory/room/${enc('#garden:localhost')}`)).status, 200);
  assert.equal((await b.get(`/directory/room/${enc('#garden:localhost')}`)).status, 404);
});

test('user directory: users sharing a room or in public rooms', async () => {
  const lonely = await registerUser(ts.baseUrl, 'xlonely');
  const hidden = await registerUser(ts.baseUrl, 'xhidden');
  const priv = await createRoom(api(ts.baseUrl, hidden.accessToken), { preset: 'private_chat' });
  void priv;
  const r = await api(ts.baseUrl, lonely.accessToken).post('/user_directory/search', { search_term: 'xalice' });
  assert.deepEqual(r.body.results.map((u: any) => u.user_id), [alice.userId], 'alice is in public rooms');
  const none = await api(ts.baseUrl, lonely.accessToken).post('/user_directory/search', { search_term: 'xhidden' });
  assert.deepEqual(none.body.results, [], 'a user only in private rooms is not listed to strangers');
  assert.equal((await b.post('/user_directory/search', {})).body.errcode, 'M_BAD_JSON');
});

test('search: ranked full-text results with context, pagination and keys', async () => {
  const roomId = await createRoom(a, { name: 'Kitchen' });
  await b.post(`/join/${enc(roomId)}`, {});
  await send(a, roomId, text('the pasta recipe needs basil'));
  await send(b, roomId, text('basil basil basil everywhere'));
  await send(a, roomId, text('nothing to see'));
  const other = await createRoom(c);
  await send(c, other, text('basil in a room bob is not in'));

  const r = await b.post('/search', { search_categories: { room_events: { search_term: 'basil', event_context: { before_limit: 1, after_limit: 1, include_profile: true } } } });
  assert.equal(r.status, 200);
  const res = r.body.search_categories.room_events;
  assert.equal(res.count, 2);
  assert.equal(res.results[0].result.content.body, 'basil basil basil everywhere', 'the best match first');
  assert.ok(res.results[0].rank >= res.results[1].rank);
  assert.equal(res.results[1].context.events_after[0].content.body, 'basil basil basil everywhere');
  assert.ok(res.results[0].context.profile_info[bob.userId]);
  // order_by recent, pagination.
  const p1 = await b.post('/search', { search_categories: { room_events: { search_term: 'basil', order_by: 'recent', filter: { limit: 1 } } } });
  const page1 = p1.body.search_categories.room_events;
  assert.equal(page1.results.length, 1);
  assert.ok(page1.next_batch);
  const p2 = await b.post(`/search?next_batch=${enc(page1.next_batch)}`, { search_categories: { room_events: { search_term: 'basil', order_by: 'recent', filter: { limit: 1 } } } });
  assert.notEqual(p2.body.search_categories.room_events.results[0].result.event_id, page1.results[0].result.event_id);
  // Room names are searchable with keys.
  const byName = await b.post('/search', { search_categories: { room_events: { search_term: 'kitchen', keys: ['content.name'] } } });
  assert.equal(byName.body.search_categories.room_events.results[0].result.type, 'm.room.name');
  // A redacted message leaves the index.
  const gone = await send(a, roomId, text('ephemeral zucchini'));
  await a.put(`/rooms/${enc(roomId)}/redact/${enc(gone)}/rz`, {});
  const z = await b.post('/search', { search_categories: { room_events: { search_term: 'zucchini' } } });
  assert.equal(z.body.search_categories.room_events.count, 0);
  // Operators in user input are treated as words, not FTS syntax.
  assert.equal((await b.post('/search', { search_categories: { room_events: { search_term: 'basil OR "(' } } })).status, 200);
  assert.equal((await b.post('/search', { search_categories: { room_events: { search_term: 'x', order_by: 'best' } } })).body.errcode, 'M_BAD_JSON');
});

test('relations: edits, annotations, references, threads, recursion, redacted relations', async () => {
  const roomId = await createRoom(a);
  await b.post(`/join/${enc(roomId)}`, {});
  const root = await send(a, roomId, text('root'));
  const edit = await send(a, roomId, { ...text('* root!'), 'm.new_content': text('root!'), 'm.relates_to': { rel_type: 'm.replace', event_id: root } });
  // An edit by someone else is not the edit.
  await send(b, roomId, { ...text('* hijack'), 'm.new_content': text('hijack'), 'm.relates_to': { rel_type: 'm.replace', event_id: root } });
  const react = await send(b, roomId, { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '🎉' } }, 'm.reaction');
  const ref = await send(b, roomId, { ...text('see above'), 'm.relates_to': { rel_type: 'm.reference', event_id: root } });
  const reply = await send(b, roomId, { ...text('in thread'), 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  await send(a, roomId, { ...text('* in thread!'), 'm.new_content': text('in thread!'), 'm.relates_to': { rel_type: 'm.replace', event_id: reply } });

  const ev = await b.get(`/rooms/${enc(roomId)}/event/${enc(root)}`);
  const rel = ev.body.unsigned['m.relations'];
  assert.equal(rel['m.replace'].event_id, edit);
  assert.deepEqual(rel['m.reference'].chunk, [{ event_id: ref }]);
  assert.equal(rel['m.thread'].count, 1);
  assert.equal(rel['m.thread'].latest_event.event_id, reply);
  assert.equal(rel['m.thread'].current_user_participated, true);
  assert.equal(ev.body.content.body, 'root', 'the server does not apply edits to content');

  const v1 = `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(root)}`;
  assert.deepEqual((await b.get(`${v1}/m.annotation`)).body.chunk.map((e: any) => e.event_id), [react]);
  assert.deepEqual((await b.get(`${v1}/m.annotation/m.reaction`)).body.chunk.map((e: any) => e.event_id), [react]);
  const all = await b.get(v1, { limit: 2 });
  assert.equal(all.body.chunk.length, 2);
  const rest = await b.get(v1, { from: all.body.next_batch, limit: 10 });
  assert.equal(all.body.chunk.length + rest.body.chunk.length, 5);
  // Recursion adds the edit of the thread reply; filters apply at every level (spec).
  const recursive = await b.get(v1, { recurse: 'true' });
  assert.equal(recursive.body.chunk.length, 6, 'five direct children and the edit of the thread reply');
  assert.equal(recursive.body.recursion_depth, 2);
  assert.equal((await b.get(`${v1}/m.thread`, { recurse: 'true' })).body.chunk.length, 1);

  const threads = await b.get(`/_matrix/client/v1/rooms/${enc(roomId)}/threads`);
  assert.deepEqual(threads.body.chunk.map((e: any) => e.event_id), [root]);
  const mine = await b.get(`/_matrix/client/v1/rooms/${enc(roomId)}/threads`, { include: 'participated' });
  assert.deepEqual(mine.body.chunk.map((e: any) => e.event_id), [root]);
  // Someone outside the room sees no threads.
  assert.deepEqual((await c.get(`/_matrix/client/v1/rooms/${enc(roomId)}/threads`)).body.chunk, []);

  // Redacting the reaction removes it from the relations.
  await b.put(`/rooms/${enc(roomId)}/redact/${enc(react)}/rr`, {});
  assert.deepEqual((await b.get(`${v1}/m.annotation`)).body.chunk, []);
});

test('room upgrade: new room with predecessor and copied state, tombstone, aliases moved, old room restricted', async () => {
  const oldRoom = await createRoom(a, { name: 'Old', room_alias_name: 'upgrade-me', room_version: '10' });
  await b.post(`/join/${enc(oldRoom)}`, {});
  assert.equal((await b.post(`/rooms/${enc(oldRoom)}/upgrade`, { new_version: '12' })).status, 403);
  const r = await a.post(`/rooms/${enc(oldRoom)}/upgrade`, { new_version: '12' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const newRoom = r.body.replacement_room;
  const create = (await a.get(`/rooms/${enc(newRoom)}/state/m.room.create`)).body;
  assert.equal(create.room_version, '12');
  assert.equal(create.predecessor.room_id, oldRoom);
  assert.equal((await a.get(`/rooms/${enc(newRoom)}/state/m.room.name`)).body.name, 'Old');
  assert.equal((await a.get(`/rooms/${enc(newRoom)}/state/m.room.join_rules`)).body.join_rule, 'public');
  const pl = (await a.get(`/rooms/${enc(newRoom)}/state/m.room.power_levels`)).body;
  assert.equal(pl.users[alice.userId], undefined, 'v12 creators are not listed in power levels');
  assert.equal((await a.get(`/rooms/${enc(oldRoom)}/state/m.room.tombstone`)).body.replacement_room, newRoom);
  assert.equal((await b.get(`/directory/room/${enc('#upgrade-me:localhost')}`)).body.room_id, newRoom);
  assert.equal((await b.put(`/rooms/${enc(oldRoom)}/send/m.room.message/old1`, text('still here?'))).body.errcode, 'M_FORBIDDEN');
  assert.equal((await a.post(`/rooms/${enc(oldRoom)}/upgrade`, { new_version: '99' })).body.errcode, 'M_UNSUPPORTED_ROOM_VERSION');
});

test('reports: events only by joined users who can see them; rooms that exist', async () => {
  const roomId = await createRoom(a);
  const ev = await send(a, roomId, text('spam'));
  assert.equal((await c.post(`/rooms/${enc(roomId)}/report/${enc(ev)}`, { reason: 'spam' })).status, 404);
  await c.post(`/join/${enc(roomId)}`, {});
  assert.equal((await c.post(`/rooms/${enc(roomId)}/report/${enc(ev)}`, { reason: 'spam' })).status, 200);
  assert.equal((await c.post(`/rooms/${enc('!nope:localhost')}/report`, { reason: 'x' })).status, 404);
  assert.equal((await c.post(`/rooms/${enc(roomId)}/report`, { reason: 'x' })).status, 200);
});

test('the event graph: edges and forward extremities follow each event', async () => {
  const roomId = await createRoom(a);
  const e1 = await send(a, roomId, text('g1'));
  const e2 = await send(a, roomId, text('g2'));
  const db = ts.server.services.db;
  const edges = await db.all<{ prev_event_id: string }>('SELECT prev_event_id FROM event_edges WHERE event_id = ?', [e2]);
  assert.deepEqual(edges.map((r) => r.prev_event_id), [e1]);
  const ext = await db.all<{ event_id: string }>('SELECT event_id FROM forward_extremities WHERE room_id = ?', [roomId]);
  assert.deepEqual(ext.map((r) => r.event_id), [e2]);
  assert.deepEqual(await db.all('SELECT * FROM event_push_actions WHERE stream_ordering < 0'), []);
  const staged = await db.get<{ n: number }>('SELECT count(*) AS n FROM events WHERE push_actions IS NOT NULL');
  assert.equal(staged!.n, 0, 'staged push actions are moved out of the events rows');
});

test('spaces: /hierarchy walks m.space.child events, paginates, hides rooms the user cannot see', async () => {
  const space = await createRoom(a, { name: 'Space', creation_content: { type: 'm.space' } });
  const child1 = await createRoom(a, { name: 'Child one' });
  const child2 = await createRoom(a, { name: 'Child two' });
  const secret = await createRoom(a, { name: 'Secret', preset: 'private_chat' });
  for (const child of [child1, child2, secret]) {
    assert.equal((await a.put(`/rooms/${enc(space)}/state/m.space.child/${enc(child)}`, { via: ['localhost'], suggested: child === child1 })).status, 200);
  }
  await b.post(`/join/${enc(space)}`, {});
  const h = await b.get(`/_matrix/client/v1/rooms/${enc(space)}/hierarchy`);
  assert.equal(h.status, 200, JSON.stringify(h.body));
  const ids = h.body.rooms.map((r: any) => r.room_id);
  assert.equal(ids[0], space);
  assert.deepEqual(ids.slice(1).sort(), [child1, child2].sort(), 'the private child is not shown to bob');
  assert.equal(h.body.rooms[0].room_type, 'm.space');
  assert.equal(h.body.rooms[0].children_state.length, 3);
  const suggested = await b.get(`/_matrix/client/v1/rooms/${enc(space)}/hierarchy`, { suggested_only: 'true' });
  assert.deepEqual(suggested.body.rooms.map((r: any) => r.room_id), [space, child1]);
  const p1 = await b.get(`/_matrix/client/v1/rooms/${enc(space)}/hierarchy`, { limit: 2 });
  assert.equal(p1.body.rooms.length, 2);
  const p2 = await b.get(`/_matrix/client/v1/rooms/${enc(space)}/hierarchy`, { limit: 2, from: p1.body.next_batch });
  assert.equal(p2.body.rooms.length, 1);
  assert.equal(p2.body.next_batch, undefined);
  assert.equal((await c.get(`/_matrix/client/v1/rooms/${enc(secret)}/hierarchy`)).status, 403);
});

test('GET /notifications lists what notified the user, highlights only on request', async () => {
  const roomId = await createRoom(a);
  await c.post(`/join/${enc(roomId)}`, {});
  await send(a, roomId, text('plain note'));
  const mention = await send(a, roomId, text('hi carol', { 'm.mentions': { user_ids: [carol.userId] } }));
  const all = await c.get('/notifications');
  const mine = all.body.notifications.filter((n: any) => n.room_id === roomId);
  assert.deepEqual(mine.map((n: any) => n.event.content.body), ['hi carol', 'plain note']);
  const hl = await c.get('/notifications', { only: 'highlight' });
  assert.deepEqual(hl.body.notifications.filter((n: any) => n.room_id === roomId).map((n: any) => n.event.event_id), [mention]);
  assert.deepEqual(hl.body.notifications[0].actions, ['notify', { set_tweak: 'highlight' }]);
});

test('threaded unread counts and threaded receipts', async () => {
  const roomId = await createRoom(a);
  await b.post(`/join/${enc(roomId)}`, {});
  const root = await send(a, roomId, text('root'));
  const r1 = await send(a, roomId, { ...text('reply 1'), 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  await send(a, roomId, { ...text('reply 2'), 'm.relates_to': { rel_type: 'm.thread', event_id: root } });
  await send(a, roomId, text('main 2'));
  const filter = JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } });
  let s = await b.get('/sync', { filter });
  let j = s.body.rooms.join[roomId];
  assert.equal(j.unread_notifications.notification_count, 2, 'root and main 2');
  assert.equal(j.unread_thread_notifications[root].notification_count, 2);
  // A receipt in the thread clears what it covers there only.
  await b.post(`/rooms/${enc(roomId)}/receipt/m.read/${enc(r1)}`, { thread_id: root });
  s = await b.get('/sync', { filter });
  j = s.body.rooms.join[roomId];
  assert.equal(j.unread_thread_notifications[root].notification_count, 1);
  assert.equal(j.unread_notifications.notification_count, 2);
  // Without the filter flag, thread counts are folded into the room's.
  s = await b.get('/sync');
  assert.equal(s.body.rooms.join[roomId].unread_notifications.notification_count, 3);
});
