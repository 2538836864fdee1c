/**
 * Concurrent sends into one room are persisted together (one statement per batch, see
 * services/events/event-writer.ts appendSoon and migration 0009) and must still look, to every
 * client and to federation, exactly like sends made one at a time: each caller gets its own
 * event ID, the room's DAG stays linear (every event cites the previous one, depth +1), the
 * room keeps one forward extremity, transaction IDs stay idempotent, a refused send fails
 * alone, and unread notification counts count every message.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { api, registerUser, type Api, type TestUser } from '../../helpers/clients.ts';

let ts: TestServer;
const enc = encodeURIComponent;
let users: TestUser[] = [];
let clients: Api[] = [];
let reader: Api;
let roomId: string;

before(async () => {
  ts = await startTestServer({ open_registration: true, rate_limits: false });
  users = await Promise.all(Array.from({ length: 10 }, (_, i) => registerUser(ts.baseUrl, `batch${i}`)));
  clients = users.map((u) => api(ts.baseUrl, u.accessToken));
  const readerUser = await registerUser(ts.baseUrl, 'batchreader');
  reader = api(ts.baseUrl, readerUser.accessToken);
  const created = await clients[0]!.post('/createRoom', { preset: 'public_chat' });
  assert.equal(created.status, 200);
  roomId = created.body.room_id;
  for (const c of [...clients.slice(1), reader]) assert.equal((await c.post(`/join/${enc(roomId)}`, {})).status, 200);
});

after(async () => {
  await ts.cleanup();
});

const PER_SENDER = 5;

test('10 concurrent senders: every send lands once, in a linear DAG, each caller with its own event ID', async () => {
  const sent: Array<{ eventId: string; body: string }> = [];
  await Promise.all(
    clients.map(async (c, n) => {
      for (let i = 0; i < PER_SENDER; i++) {
        const body = `sender ${n} message ${i}`;
        const r = await c.put(`/rooms/${enc(roomId)}/send/m.room.message/m${i}`, { msgtype: 'm.text', body });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        sent.push({ eventId: r.body.event_id, body });
      }
    }),
  );
  assert.equal(new Set(sent.map((s) => s.eventId)).size, 10 * PER_SENDER);

  // Each caller's ID is the event with its content.
  await Promise.all(
    sent.map(async (s) => {
      const r = await reader.get(`/rooms/${enc(roomId)}/event/${enc(s.eventId)}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.content.body, s.body);
    }),
  );

  // The timeline holds each message once, and the graph is a chain: every event's only
  // prev_event is the event before it, one deeper.
  const msgs = await reader.get(`/rooms/${enc(roomId)}/messages`, { dir: 'f', limit: 1000 });
  const timeline: Array<{ event_id: string; type: string }> = msgs.body.chunk;
  const ours = timeline.filter((e) => e.type === 'm.room.message');
  assert.equal(ours.length, 10 * PER_SENDER);
  const core = ts.server.services.roomCore;
  for (let i = 1; i < timeline.length; i++) {
    const ev = await core.eventCache.get(timeline[i]!.event_id);
    const prev = await core.eventCache.get(timeline[i - 1]!.event_id);
    assert.ok(ev && prev);
    assert.deepEqual(ev.pdu.prev_events, [prev.eventId], `event ${i} cites the previous event`);
    assert.equal(ev.depth, prev.depth + 1);
  }
  const extremities = await ts.server.services.db.all<{ event_id: string }>('SELECT event_id FROM forward_extremities WHERE room_id = ?', [roomId]);
  assert.deepEqual(extremities.map((r) => r.event_id), [timeline.at(-1)!.event_id]);
});

test('a retried transaction returns the original event ID, also when retried while the batch is in flight', async () => {
  const c = clients[3]!;
  const path = `/rooms/${enc(roomId)}/send/m.room.message/retry-me`;
  const [first, concurrent] = await Promise.all([
    c.put(path, { msgtype: 'm.text', body: 'once' }),
    c.put(path, { msgtype: 'm.text', body: 'once' }),
    ...clients.slice(4).map((o, i) => o.put(`/rooms/${enc(roomId)}/send/m.room.message/other-${i}`, { msgtype: 'm.text', body: 'noise' })),
  ]);
  assert.equal(first!.status, 200);
  assert.equal(concurrent!.body.event_id, first!.body.event_id);
  const later = await c.put(path, { msgtype: 'm.text', body: 'once' });
  assert.equal(later.body.event_id, first!.body.event_id);
  // The same transaction ID from another device of the same user is a different transaction.
  const login = await api(ts.baseUrl).post('/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user: users[3]!.localpart }, password: users[3]!.password });
  const other = await api(ts.baseUrl, login.body.access_token).put(path, { msgtype: 'm.text', body: 'once' });
  assert.equal(other.status, 200);
  assert.notEqual(other.body.event_id, first!.body.event_id);
});

test('refused sends in a batch fail alone: the others land and the DAG stays linear', async () => {
  const outsider = api(ts.baseUrl, (await registerUser(ts.baseUrl, 'batchoutsider')).accessToken);
  const results = await Promise.all([
    clients[0]!.put(`/rooms/${enc(roomId)}/send/m.room.message/ok-1`, { msgtype: 'm.text', body: 'fine 1' }),
    outsider.put(`/rooms/${enc(roomId)}/send/m.room.message/no-1`, { msgtype: 'm.text', body: 'not a member' }),
    clients[1]!.put(`/rooms/${enc(roomId)}/send/m.room.message/big-1`, { msgtype: 'm.text', body: 'x'.repeat(70_000) }),
    clients[2]!.put(`/rooms/${enc(roomId)}/send/m.room.message/ok-2`, { msgtype: 'm.text', body: 'fine 2' }),
  ]);
  assert.deepEqual(results.map((r) => r.status), [200, 403, 413, 200]);
  const next = await clients[0]!.put(`/rooms/${enc(roomId)}/send/m.room.message/ok-3`, { msgtype: 'm.text', body: 'fine 3' });
  const ev = await ts.server.services.roomCore.eventCache.get(next.body.event_id);
  assert.equal(ev?.pdu.prev_events.length, 1);
  const extremities = await ts.server.services.db.all('SELECT event_id FROM forward_extremities WHERE room_id = ?', [roomId]);
  assert.equal(extremities.length, 1);
});

test('unread notification counts include every message of a concurrent burst', async () => {
  const reset = await reader.get('/sync', { timeout: 0 });
  const lastId = reset.body.rooms.join[roomId].timeline.events.at(-1).event_id;
  assert.equal((await reader.post(`/rooms/${enc(roomId)}/receipt/m.read/${enc(lastId)}`, {})).status, 200);
  await Promise.all(clients.map((c, n) => c.put(`/rooms/${enc(roomId)}/send/m.room.message/unread-${n}`, { msgtype: 'm.text', body: `unread ${n}` })));
  const s = await reader.get('/sync', { timeout: 0 });
  assert.equal(s.body.rooms.join[roomId].unread_notifications.notification_count, clients.length);
});

test('conditions shared across members are evaluated per event, but display names per member', async () => {
  // Push evaluation shares the results of conditions that depend only on the event (see
  // services/push-eval.ts); a display-name condition depends on the member and must not leak.
  const [bob, carol] = [clients[5]!, clients[6]!];
  for (const [c, u, name] of [[bob, users[5]!, 'Bobbington'], [carol, users[6]!, 'Carolyn']] as const) {
    assert.equal((await c.put(`/profile/${enc(u.userId)}/displayname`, { displayname: name })).status, 200);
    const rule = { conditions: [{ kind: 'contains_display_name' }], actions: ['notify', { set_tweak: 'highlight' }] };
    assert.equal((await c.put('/pushrules/global/override/org.example.my_name', rule)).status, 200);
  }
  const readAll = async (c: Api) => {
    const s = await c.get('/sync', { timeout: 0 });
    const last = s.body.rooms.join[roomId].timeline.events.at(-1).event_id;
    assert.equal((await c.post(`/rooms/${enc(roomId)}/receipt/m.read/${enc(last)}`, {})).status, 200);
  };
  await readAll(bob);
  await readAll(carol);
  await Promise.all([
    clients[0]!.put(`/rooms/${enc(roomId)}/send/m.room.message/name-1`, { msgtype: 'm.text', body: 'hello Bobbington' }),
    clients[1]!.put(`/rooms/${enc(roomId)}/send/m.room.message/name-2`, { msgtype: 'm.text', body: 'nothing here' }),
  ]);
  const counts = async (c: Api) => (await c.get('/sync', { timeout: 0 })).body.rooms.join[roomId].unread_notifications;
  assert.deepEqual(await counts(bob), { notification_count: 2, highlight_count: 1 });
  assert.deepEqual(await counts(carol), { notification_count: 2, highlight_count: 0 });
});
