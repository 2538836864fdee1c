/**
 * Hostile input over /send: forged signatures, hash mismatches, events that fail the auth
 * rules, ban evasion (soft failure), malformed and oversized transactions. None of it reaches
 * clients, each PDU gets its result, and the room keeps working for local users.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFederation, type Federation } from '../helpers/federation.ts';
import { createRoom, fedUser, join, messageBodies, send, stateEvent, timeline, waitFor, type FedUser } from '../helpers/fed-clients.ts';
import type { Services } from '../../server/services/container.ts';
import type { JsonObject, Pdu } from '../../server/protocol/pdu-types.ts';
import { computeEventId, signEvent } from '../../server/protocol/hashing.ts';
import { signingKeyFromSeed, type SigningKey } from '../../server/protocol/signing.ts';
import { authEventsNeeded } from '../../server/protocol/auth/index.ts';

let fed: Federation;
let bob: FedUser; // on B, creator of the room
let alice: FedUser; // on A
let eve: FedUser; // on A, banned later
let roomId: string;
const A = () => fed.servers[0]!;
const B = () => fed.servers[1]!;
const svc = (i: number): Services => fed.servers[i]!.test.server.services;

/** An event built on B's current view of the room, signed as A would (or with `key`). */
async function craft(sender: string, type: string, content: JsonObject, o: { stateKey?: string; prev?: string[]; key?: SigningKey } = {}): Promise<{ pdu: Pdu; eventId: string }> {
  const core = svc(1).roomCore;
  const version = await core.versionOf(roomId);
  const prev = o.prev ?? (await core.events.getExtremities(roomId));
  const prevEvs = await core.eventCache.getMany(prev);
  // Auth events from the state at the prev events (so an event citing old parts of the graph is valid there).
  const state = await core.stateCache.get([...prevEvs.values()][0]!.stateAfter!);
  const skeleton = { type, state_key: o.stateKey, sender, content } as Pdu;
  const auth = authEventsNeeded(skeleton, version).map(([t, s]) => state.get(t, s)).filter((x): x is string => !!x);
  const depth = Math.max(...[...prevEvs.values()].map((e) => e.depth)) + 1;
  const pdu: JsonObject = {
    room_id: roomId,
    sender,
    type,
    ...(o.stateKey !== undefined && { state_key: o.stateKey }),
    content,
    origin_server_ts: Date.now(),
    depth,
    prev_events: prev,
    auth_events: auth,
  };
  const key = o.key ?? svc(0).signingKeys[0]!;
  const signed = signEvent(pdu, version, A().name, key.keyId, key.seed) as unknown as Pdu;
  return { pdu: signed, eventId: computeEventId(signed, version) };
}

let txn = 0;
async function sendTxn(pdus: unknown[], edus: unknown[] = []): Promise<any> {
  return svc(0).federation.client.request(B().name, 'PUT', `/_matrix/federation/v1/send/badinput${++txn}`, {
    body: { origin: A().name, origin_server_ts: Date.now(), pdus, edus },
  });
}

async function allBodiesSeenBy(u: FedUser): Promise<string> {
  const tl = JSON.stringify(await timeline(u, roomId, 200));
  const sync = JSON.stringify((await u.api.get('/sync')).body);
  return tl + sync;
}

before(async () => {
  fed = await startFederation(2);
  bob = await fedUser(B(), 'bob');
  alice = await fedUser(A(), 'alice');
  eve = await fedUser(A(), 'eve');
  roomId = await createRoom(bob, { name: 'guarded' });
  await join(alice, roomId, [B().name]);
  await join(eve, roomId, [B().name]);
  await waitFor('B sees eve joined', async () => (await stateEvent(bob, roomId, 'm.room.member', eve.userId))?.membership === 'join');
});
after(async () => {
  await fed.cleanup();
});

test('a forged signature is dropped with an error for that PDU', async () => {
  const forger = signingKeyFromSeed(new Uint8Array(32).fill(9), svc(0).signingKeys[0]!.keyId);
  const ev = await craft(alice.userId, 'm.room.message', { msgtype: 'm.text', body: 'FORGED' }, { key: forger });
  const r = await sendTxn([ev.pdu]);
  assert.match(r.pdus[ev.eventId].error, /not validly signed/);
  assert.equal(await svc(1).roomCore.eventCache.get(ev.eventId), undefined, 'not stored');
  assert.ok(!(await allBodiesSeenBy(bob)).includes('FORGED'), "!(await allBodiesSeenBy(bob)).includes('FORGED')");
});

test('a hash mismatch is processed redacted: the altered content never reaches clients', async () => {
  const ev = await craft(alice.userId, 'm.room.message', { msgtype: 'm.text', body: 'original' });
  // Changing content keeps the signature (it covers the redacted event) but breaks the hash.
  const tampered = { ...ev.pdu, content: { msgtype: 'm.text', body: 'TAMPERED' } };
  const r = await sendTxn([tampered]);
  assert.deepEqual(r.pdus[ev.eventId], {});
  const stored = await svc(1).roomCore.eventCache.get(ev.eventId);
  assert.ok(stored, 'stored (redacted)');
  assert.deepEqual(stored.pdu.content, {});
  const seen = await allBodiesSeenBy(bob);
  assert.ok(!seen.includes('TAMPERED') && !seen.includes('original'), "!seen.includes('TAMPERED') && !seen.includes('original')");
});

test('events failing the auth rules are rejected and never shown', async () => {
  // A user of A who never joined.
  const ghost = `@ghost:${A().name}`;
  const msg = await craft(ghost, 'm.room.message', { msgtype: 'm.text', body: 'GHOST' });
  // Alice (power 0) changing the room name.
  const name = await craft(alice.userId, 'm.room.name', { name: 'HIJACKED' }, { stateKey: '' });
  // A join on behalf of a user of another server (not A's to make).
  const r = await sendTxn([msg.pdu, name.pdu]);
  assert.deepEqual(Object.keys(r.pdus).sort(), [msg.eventId, name.eventId].sort());
  assert.equal((await svc(1).roomCore.eventCache.get(msg.eventId))?.rejected !== null, true);
  assert.equal((await svc(1).roomCore.eventCache.get(name.eventId))?.rejected !== null, true);
  const seen = await allBodiesSeenBy(bob);
  assert.ok(!seen.includes('GHOST') && !seen.includes('HIJACKED'), "!seen.includes('GHOST') && !seen.includes('HIJACKED')");
  assert.equal((await stateEvent(bob, roomId, 'm.room.name'))?.name, 'guarded');
});

test('ban evasion is soft-failed: valid at its place in the graph, hidden from clients', async () => {
  const before = await svc(1).roomCore.events.getExtremities(roomId);
  assert.equal((await bob.api.post(`/rooms/${encodeURIComponent(roomId)}/ban`, { user_id: eve.userId })).status, 200);
  // Eve's server sends an event citing the graph before the ban.
  const evasion = await craft(eve.userId, 'm.room.message', { msgtype: 'm.text', body: 'EVADING' }, { prev: before });
  const r = await sendTxn([evasion.pdu]);
  assert.deepEqual(r.pdus[evasion.eventId], {});
  const stored = await svc(1).roomCore.eventCache.get(evasion.eventId);
  assert.equal(stored?.rejected, null, 'not rejected: it passes auth at its place');
  assert.ok(!(await svc(1).roomCore.events.getExtremities(roomId)).includes(evasion.eventId), 'not a forward extremity');
  assert.ok(!(await allBodiesSeenBy(bob)).includes('EVADING'), "!(await allBodiesSeenBy(bob)).includes('EVADING')");
});

test('malformed PDUs and EDUs are dropped; oversized transactions refused', async () => {
  const r = await sendTxn([{ room_id: roomId, type: 'm.room.message' }, 'not an object', { room_id: '!unknown:nowhere', type: 'x' }], [{ edu_type: 'm.typing' }, 42]);
  assert.deepEqual(r.pdus, {});
  const tooMany = Array.from({ length: 51 }, () => ({}));
  await assert.rejects(sendTxn(tooMany), (e: any) => e.status === 400);
});

test('the room still works for everyone', async () => {
  await send(bob, roomId, 'still alive');
  await waitFor('A gets it', async () => (await messageBodies(alice, roomId)).includes('still alive'));
  await send(alice, roomId, 'me too');
  await waitFor('B gets it', async () => (await messageBodies(bob, roomId)).includes('me too'));
});
