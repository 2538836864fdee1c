/**
 * Rooms over real HTTP: createRoom options, membership (invite, join by alias, leave, forget,
 * kick, ban, unban, knock), state, redaction per room version, /event, /context, /members,
 * /joined_members, /joined_rooms, transaction idempotency, and the spec's errors for bad input.
 * Also checks that stored events are real PDUs: hashed, signed with the server key, with
 * auth_events and prev_events.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { api, registerUser, type Api, type TestUser } from '../../helpers/clients.ts';
import { checkContentHash, verifyEventSignature, computeEventId } from '../../../server/protocol/hashing.ts';
import { getRoomVersion } from '../../../server/protocol/room-versions.ts';
import { parseSigningKeyFile } from '../../../server/services/signing-key.ts';
import type { Pdu } from '../../../server/protocol/pdu-types.ts';

let ts: TestServer;
let alice: TestUser;
let bob: TestUser;
let a: Api;
let b: Api;
const enc = encodeURIComponent;
let txn = 0;

before(async () => {
  ts = await startTestServer({ open_registration: true, rate_limits: false });
  alice = await registerUser(ts.baseUrl, 'ralice');
  bob = await registerUser(ts.baseUrl, 'rbob');
  a = api(ts.baseUrl, alice.accessToken);
  b = api(ts.baseUrl, bob.accessToken);
});

after(async () => {
  await ts.cleanup();
});

async function create(client: Api, body: Record<string, unknown> = {}): Promise<string> {
  const r = await client.post('/createRoom', body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.room_id;
}

async function state(client: Api, roomId: string, type: string, key = ''): Promise<any> {
  return (await client.get(`/rooms/${enc(roomId)}/state/${type}/${enc(key)}`)).body;
}

async function send(client: Api, roomId: string, body: string): Promise<string> {
  const r = await client.put(`/rooms/${enc(roomId)}/send/m.room.message/x${++txn}`, { msgtype: 'm.text', body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.event_id;
}

test('the signing key is created at first start, 0600, in the Synapse format', () => {
  const path = join(ts.dataDir, 'signing.key');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.match(readFileSync(path, 'utf8'), /^ed25519 [a-zA-Z0-9_]+ [A-Za-z0-9+/]{43}\n$/);
});

test('stored events are hashed and signed PDUs with auth and prev events', async () => {
  const roomId = await create(a, { name: 'pdus' });
  const eventId = await send(a, roomId, 'signed');
  const row = await ts.server.services.db.get<{ json: string; state_before: number; state_after: number }>(
    'SELECT json, state_before, state_after FROM events WHERE event_id = ?',
    [eventId],
  );
  const pdu = JSON.parse(row!.json) as Pdu;
  const v = getRoomVersion('12')!;
  assert.ok(checkContentHash(pdu, v));
  assert.equal(computeEventId(pdu, v), eventId);
  const [key] = parseSigningKeyFile(readFileSync(join(ts.dataDir, 'signing.key'), 'utf8'));
  assert.ok(verifyEventSignature(pdu, v, 'localhost', key!.keyId, key!.publicKey));
  assert.equal(pdu.prev_events.length, 1);
  assert.ok(pdu.auth_events.length >= 2, 'power levels and the sender membership');
  assert.ok(pdu.depth > 1);
  assert.equal(row!.state_before, row!.state_after, 'a message does not change state');

  // Every room version's event ID format, hash and signature.
  for (const version of ['1', '3', '4', '6', '11', '12']) {
    const rv = getRoomVersion(version)!;
    const id = await create(a, { room_version: version });
    const ev = await send(a, id, `v${version}`);
    const r = await ts.server.services.db.get<{ json: string }>('SELECT json FROM events WHERE event_id = ?', [ev]);
    const p = JSON.parse(r!.json) as Pdu;
    assert.equal(computeEventId(p, rv), ev, `event ID in v${version}`);
    assert.ok(checkContentHash(p, rv), `content hash in v${version}`);
    assert.ok(verifyEventSignature(p, rv, 'localhost', key!.keyId, key!.publicKey), `signature in v${version}`);
  }
});

test('createRoom: presets, name, topic, alias, initial_state, power override, invites, versions', async () => {
  const roomId = await create(a, {
    preset: 'public_chat',
    name: 'Lobby',
    topic: 'Say hi',
    room_alias_name: 'lobby',
    initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'world_readable' } }],
    power_level_content_override: { events_default: 10 },
    invite: [bob.userId],
    is_direct: true,
  });
  assert.equal((await state(a, roomId, 'm.room.name')).name, 'Lobby');
  assert.equal((await state(a, roomId, 'm.room.topic')).topic, 'Say hi');
  assert.equal((await state(a, roomId, 'm.room.join_rules')).join_rule, 'public');
  assert.equal((await state(a, roomId, 'm.room.guest_access')).guest_access, 'forbidden');
  assert.equal((await state(a, roomId, 'm.room.history_visibility')).history_visibility, 'world_readable');
  assert.equal((await state(a, roomId, 'm.room.power_levels')).events_default, 10);
  assert.equal((await state(a, roomId, 'm.room.canonical_alias')).alias, '#lobby:localhost');
  const inv = await state(a, roomId, 'm.room.member', bob.userId);
  assert.equal(inv.membership, 'invite');
  assert.equal(inv.is_direct, true);
  assert.equal((await a.get(`/directory/room/${enc('#lobby:localhost')}`)).body.room_id, roomId);
  // The same alias again: M_ROOM_IN_USE.
  assert.equal((await a.post('/createRoom', { room_alias_name: 'lobby' })).body.errcode, 'M_ROOM_IN_USE');

  for (const version of ['1', '5', '9', '11', '12']) {
    const id = await create(a, { room_version: version, name: `v${version}` });
    assert.equal((await state(a, id, 'm.room.create')).room_version, version);
    const ev = await send(a, id, `in v${version}`);
    assert.ok(ev.startsWith('$'));
  }
  assert.equal((await a.post('/createRoom', { room_version: '99' })).body.errcode, 'M_UNSUPPORTED_ROOM_VERSION');
  assert.equal((await a.post('/createRoom', { preset: 'nonsense' })).body.errcode, 'M_BAD_JSON');
  assert.equal((await a.post('/createRoom', { invite: 'not-a-list' })).body.errcode, 'M_BAD_JSON');
  // Power levels that forbid the creator's later events: M_INVALID_ROOM_STATE, nothing created.
  const bad = await a.post('/createRoom', { room_version: '10', power_level_content_override: { users: { [alice.userId]: 0 } }, name: 'x' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.errcode, 'M_INVALID_ROOM_STATE');
});

test('membership: invite, join by alias, leave, forget, kick, ban, unban, knock', async () => {
  const roomId = await create(a, { preset: 'private_chat', room_alias_name: 'private-one' });
  // Not invited: cannot join an invite-only room.
  assert.equal((await b.post(`/join/${enc('#private-one:localhost')}`, {})).body.errcode, 'M_FORBIDDEN');
  assert.equal((await a.post(`/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status, 200);
  assert.equal((await b.post(`/join/${enc('#private-one:localhost')}`, {})).body.room_id, roomId);
  assert.deepEqual((await b.get('/joined_rooms')).body.joined_rooms.includes(roomId), true);
  const joined = await a.get(`/rooms/${enc(roomId)}/joined_members`);
  assert.deepEqual(Object.keys(joined.body.joined).sort(), [alice.userId, bob.userId].sort());
  assert.equal(joined.body.joined[bob.userId].display_name, 'rbob');
  // Inviting a joined user is refused.
  assert.equal((await a.post(`/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).body.errcode, 'M_FORBIDDEN');

  // Forget needs a leave first.
  assert.equal((await b.post(`/rooms/${enc(roomId)}/forget`, {})).status, 400);
  assert.equal((await b.post(`/rooms/${enc(roomId)}/leave`, { reason: 'bye' })).status, 200);
  assert.equal((await state(a, roomId, 'm.room.member', bob.userId)).reason, 'bye');
  assert.equal((await b.post(`/rooms/${enc(roomId)}/forget`, {})).status, 200);
  assert.equal((await b.get('/joined_rooms')).body.joined_rooms.includes(roomId), false);

  // Kick (needs power), ban, unban.
  await a.post(`/rooms/${enc(roomId)}/invite`, { user_id: bob.userId });
  await b.post(`/rooms/${enc(roomId)}/join`, {});
  assert.equal((await b.post(`/rooms/${enc(roomId)}/kick`, { user_id: alice.userId })).body.errcode, 'M_FORBIDDEN');
  assert.equal((await a.post(`/rooms/${enc(roomId)}/kick`, { user_id: bob.userId, reason: 'out' })).status, 200);
  assert.equal((await state(a, roomId, 'm.room.member', bob.userId)).membership, 'leave');
  assert.equal((await a.post(`/rooms/${enc(roomId)}/ban`, { user_id: bob.userId })).status, 200);
  assert.equal((await a.post(`/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).body.errcode, 'M_FORBIDDEN');
  assert.equal((await a.post(`/rooms/${enc(roomId)}/unban`, { user_id: bob.userId })).status, 200);
  assert.equal((await state(a, roomId, 'm.room.member', bob.userId)).membership, 'leave');

  // Knock on a knockable room, then get invited.
  const knockRoom = await create(a, { initial_state: [{ type: 'm.room.join_rules', content: { join_rule: 'knock' } }] });
  assert.equal((await b.post(`/knock/${enc(knockRoom)}`, { reason: 'let me in' })).body.room_id, knockRoom);
  assert.equal((await state(a, knockRoom, 'm.room.member', bob.userId)).membership, 'knock');
  assert.equal((await a.post(`/rooms/${enc(knockRoom)}/invite`, { user_id: bob.userId })).status, 200);
  assert.equal((await b.post(`/rooms/${enc(knockRoom)}/join`, {})).status, 200);

  // Unknown rooms and aliases.
  assert.equal((await b.post(`/join/${enc('#nope:localhost')}`, {})).status, 404);
  assert.equal((await b.post(`/rooms/${enc('!nope:localhost')}/leave`, {})).status, 404);
});

test('send: transaction IDs are idempotent per device; state PUT; redaction strips content', async () => {
  const roomId = await create(a, { preset: 'public_chat' });
  await b.post(`/join/${enc(roomId)}`, {});
  const first = await a.put(`/rooms/${enc(roomId)}/send/m.room.message/same-txn`, { msgtype: 'm.text', body: 'once' });
  const again = await a.put(`/rooms/${enc(roomId)}/send/m.room.message/same-txn`, { msgtype: 'm.text', body: 'once' });
  assert.equal(again.body.event_id, first.body.event_id);
  // Another user with the same transaction ID gets their own event.
  const other = await b.put(`/rooms/${enc(roomId)}/send/m.room.message/same-txn`, { msgtype: 'm.text', body: 'mine' });
  assert.notEqual(other.body.event_id, first.body.event_id);

  // Custom state with a state key; reading it back; a user without power is refused.
  const put = await a.put(`/rooms/${enc(roomId)}/state/org.example.config/${enc('k1')}`, { on: true });
  assert.equal(put.status, 200);
  assert.deepEqual(await state(b, roomId, 'org.example.config', 'k1'), { on: true });
  const full = await b.get(`/rooms/${enc(roomId)}/state/org.example.config/k1`, { format: 'event' });
  assert.equal(full.body.event_id, put.body.event_id);
  assert.equal((await b.put(`/rooms/${enc(roomId)}/state/m.room.name`, { name: 'hijack' })).body.errcode, 'M_FORBIDDEN');
  assert.equal((await b.get(`/rooms/${enc(roomId)}/state/m.room.topic`)).status, 404);

  // Redaction: by the sender; content stripped; the redaction is idempotent per transaction.
  const msg = first.body.event_id;
  assert.equal((await b.put(`/rooms/${enc(roomId)}/redact/${enc(msg)}/r1`, {})).body.errcode, 'M_FORBIDDEN');
  const red = await a.put(`/rooms/${enc(roomId)}/redact/${enc(msg)}/r1`, { reason: 'typo' });
  assert.equal(red.status, 200);
  assert.equal((await a.put(`/rooms/${enc(roomId)}/redact/${enc(msg)}/r1`, { reason: 'typo' })).body.event_id, red.body.event_id);
  const ev = await b.get(`/rooms/${enc(roomId)}/event/${enc(msg)}`);
  assert.deepEqual(ev.body.content, {});
  assert.equal(ev.body.unsigned.redacted_because.event_id, red.body.event_id);
  assert.equal(ev.body.unsigned.redacted_because.content.reason, 'typo');

  // v1 rooms keep `redacts` at the top level; state content kept per the v1 algorithm.
  const old = await create(a, { room_version: '1' });
  const m = await send(a, old, 'v1 text');
  const r1 = await a.put(`/rooms/${enc(old)}/redact/${enc(m)}/r2`, {});
  const redaction = await a.get(`/rooms/${enc(old)}/event/${enc(r1.body.event_id)}`);
  assert.equal(redaction.body.redacts, m);
  assert.deepEqual((await a.get(`/rooms/${enc(old)}/event/${enc(m)}`)).body.content, {});
});

test('/messages both directions, /context, /members with at and membership filters', async () => {
  const roomId = await create(a, { preset: 'public_chat' });
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) ids.push(await send(a, roomId, `p${i}`));
  await b.post(`/join/${enc(roomId)}`, {});

  const back = await b.get(`/rooms/${enc(roomId)}/messages`, { dir: 'b', limit: 5, filter: JSON.stringify({ types: ['m.room.message'] }) });
  assert.deepEqual(back.body.chunk.map((e: any) => e.content.body), ['p11', 'p10', 'p9', 'p8', 'p7']);
  const back2 = await b.get(`/rooms/${enc(roomId)}/messages`, { dir: 'b', limit: 5, from: back.body.end, filter: JSON.stringify({ types: ['m.room.message'] }) });
  assert.deepEqual(back2.body.chunk.map((e: any) => e.content.body), ['p6', 'p5', 'p4', 'p3', 'p2']);
  const fwd = await b.get(`/rooms/${enc(roomId)}/messages`, { dir: 'f', limit: 100 });
  const bodies = fwd.body.chunk.filter((e: any) => e.type === 'm.room.message').map((e: any) => e.content.body);
  assert.deepEqual(bodies, Array.from({ length: 12 }, (_, i) => `p${i}`));
  assert.equal(fwd.body.chunk[0].type, 'm.room.create');
  assert.equal(fwd.body.end, undefined, 'no end token once the room is exhausted');
  assert.equal((await b.get(`/rooms/${enc(roomId)}/messages`, { dir: 'x' })).body.errcode, 'M_INVALID_PARAM');
  assert.equal((await b.get(`/rooms/${enc(roomId)}/messages`, { from: 'bogus' })).body.errcode, 'M_INVALID_PARAM');

  const ctx = await b.get(`/rooms/${enc(roomId)}/context/${enc(ids[5]!)}`, { limit: 4 });
  assert.equal(ctx.body.event.event_id, ids[5]);
  assert.deepEqual(ctx.body.events_before.map((e: any) => e.event_id), [ids[4], ids[3]]);
  assert.deepEqual(ctx.body.events_after.map((e: any) => e.event_id), [ids[6], ids[7]]);
  assert.ok(ctx.body.state.some((e: any) => e.type === 'm.room.create'));
  const before = await b.get(`/rooms/${enc(roomId)}/messages`, { dir: 'b', from: ctx.body.start, limit: 1 });
  assert.equal(before.body.chunk[0].event_id, ids[2]);

  const members = await b.get(`/rooms/${enc(roomId)}/members`);
  assert.deepEqual(members.body.chunk.map((e: any) => e.state_key).sort(), [alice.userId, bob.userId].sort());
  // `at` a point before bob joined: only alice.
  const at = await b.get(`/rooms/${enc(roomId)}/members`, { at: back2.body.end });
  assert.deepEqual(at.body.chunk.map((e: any) => e.state_key), [alice.userId]);
  const notJoin = await b.get(`/rooms/${enc(roomId)}/members`, { not_membership: 'join' });
  assert.deepEqual(notJoin.body.chunk, []);
});

test('history visibility: joined-only history is hidden from later joiners; left users see up to leaving', async () => {
  const roomId = await create(a, { preset: 'public_chat', initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }] });
  await send(a, roomId, 'before bob');
  await b.post(`/join/${enc(roomId)}`, {});
  const after = await send(a, roomId, 'after bob');
  const msgs = await b.get(`/rooms/${enc(roomId)}/messages`, { dir: 'b', limit: 50 });
  const bodies = msgs.body.chunk.filter((e: any) => e.type === 'm.room.message').map((e: any) => e.content.body);
  assert.deepEqual(bodies, ['after bob']);
  const hidden = msgs.body.chunk.find((e: any) => e.content.body === 'before bob');
  assert.equal(hidden, undefined);
  await b.post(`/rooms/${enc(roomId)}/leave`, {});
  await send(a, roomId, 'after leaving');
  const afterLeave = await b.get(`/rooms/${enc(roomId)}/messages`, { dir: 'b', limit: 50 });
  const seen = afterLeave.body.chunk.filter((e: any) => e.type === 'm.room.message').map((e: any) => e.event_id);
  assert.deepEqual(seen, [after]);
  assert.equal((await b.get(`/rooms/${enc(roomId)}/joined_members`)).status, 403);
});

test('bad input gets the spec errors, never a 500', async () => {
  const roomId = await create(a);
  const r = enc(roomId);
  assert.equal((await a.raw('PUT', `/rooms/${r}/send/m.room.message/bad1`, '{nope')).body.errcode, 'M_NOT_JSON');
  assert.equal((await a.raw('PUT', `/rooms/${r}/send/m.room.message/bad2`, '[1,2]')).body.errcode, 'M_BAD_JSON');
  const huge = await a.put(`/rooms/${r}/send/m.room.message/bad3`, { msgtype: 'm.text', body: 'x'.repeat(70_000) });
  assert.equal(huge.status, 413);
  assert.equal(huge.body.errcode, 'M_TOO_LARGE');
  const float = await a.put(`/rooms/${r}/send/m.room.message/bad4`, { msgtype: 'm.text', body: 'f', n: 1.5 });
  assert.equal(float.body.errcode, 'M_BAD_JSON');
  assert.equal((await b.put(`/rooms/${r}/send/m.room.message/bad5`, { body: 'not joined' })).body.errcode, 'M_FORBIDDEN');
  assert.equal((await a.put(`/rooms/${enc('!unknown:localhost')}/send/m.room.message/bad6`, {})).status, 404);
  assert.equal((await a.put(`/rooms/notaroom/send/m.room.message/bad7`, {})).body.errcode, 'M_INVALID_PARAM');
  assert.equal((await a.get(`/rooms/${r}/event/${enc('$missing')}`)).status, 404);
  assert.equal((await a.post(`/rooms/${r}/invite`, { user_id: 'nobody' })).body.errcode, 'M_BAD_JSON');
  assert.equal((await b.get(`/rooms/${r}/state`)).body.errcode, 'M_FORBIDDEN');
  assert.equal((await a.put(`/rooms/${r}/state/m.room.canonical_alias`, { alias: '#nothere:localhost' })).body.errcode, 'M_BAD_ALIAS');
  assert.equal((await a.delete(`/rooms/${r}/send/m.room.message/x`)).status, 405);
});

test('concurrent sends share a transaction: a refused one fails alone, a duplicate transaction gives one event', async () => {
  const roomId = await create(a, { preset: 'public_chat' });
  const r = enc(roomId);
  const outsider = api(ts.baseUrl, (await registerUser(ts.baseUrl, 'routsider')).accessToken);
  const results = await Promise.all([
    a.put(`/rooms/${r}/send/m.room.message/c1`, { msgtype: 'm.text', body: 'one' }),
    outsider.put(`/rooms/${r}/send/m.room.message/c2`, { msgtype: 'm.text', body: 'not a member' }),
    a.put(`/rooms/${r}/send/m.room.message/c3`, { msgtype: 'm.text', body: 'three' }),
    a.put(`/rooms/${r}/send/m.room.message/dup`, { msgtype: 'm.text', body: 'dup' }),
    a.put(`/rooms/${r}/send/m.room.message/dup`, { msgtype: 'm.text', body: 'dup' }),
  ]);
  assert.deepEqual(results.map((x) => x.status), [200, 403, 200, 200, 200]);
  assert.equal(results[3]!.body.event_id, results[4]!.body.event_id);
  const msgs = await a.get(`/rooms/${r}/messages`, { dir: 'b', limit: 10, filter: JSON.stringify({ types: ['m.room.message'] }) });
  assert.deepEqual(msgs.body.chunk.map((e: any) => e.content.body).sort(), ['dup', 'one', 'three']);
});
