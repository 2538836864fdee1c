/**
 * Two real Hearth instances: a room created on A is joined from B over federation (make_join /
 * send_join), then messages and state flow both ways through /send transactions.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFederation, type Federation } from '../helpers/federation.ts';
import { createRoom, fedUser, join, messageBodies, send, stateEvent, waitFor, type FedUser } from '../helpers/fed-clients.ts';

let fed: Federation;
let alice: FedUser;
let bob: FedUser;
let roomId: string;

before(async () => {
  fed = await startFederation(2);
  alice = await fedUser(fed.servers[0]!, 'alice');
  bob = await fedUser(fed.servers[1]!, 'bob');
});
after(async () => {
  await fed.cleanup();
});

test('a user on B joins a public room created on A', async () => {
  roomId = await createRoom(alice, { name: 'Hearth federation' });
  await send(alice, roomId, 'hello before bob');
  const joined = await join(bob, roomId, [fed.servers[0]!.name]);
  assert.equal(joined, roomId);
  // B has the room's state: its name and both members.
  assert.equal((await stateEvent(bob, roomId, 'm.room.name'))?.name, 'Hearth federation');
  assert.equal((await stateEvent(bob, roomId, 'm.room.member', alice.userId))?.membership, 'join');
  // A hears about the join.
  await waitFor('A sees bob joined', async () => (await stateEvent(alice, roomId, 'm.room.member', bob.userId))?.membership === 'join');
});

test('messages flow both ways', async () => {
  await send(bob, roomId, 'hi from B');
  await waitFor('A receives B’s message', async () => (await messageBodies(alice, roomId)).includes('hi from B'));
  await send(alice, roomId, 'hi from A');
  await waitFor('B receives A’s message', async () => (await messageBodies(bob, roomId)).includes('hi from A'));
  // Order on both sides: A's message after B's.
  const onB = await messageBodies(bob, roomId);
  assert.ok(onB.indexOf('hi from B') < onB.indexOf('hi from A'), "onB.indexOf('hi from B') < onB.indexOf('hi from A')");
});

test('state changes flow both ways', async () => {
  const r = await alice.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: 'set on A' });
  assert.equal(r.status, 200);
  await waitFor('B sees the topic', async () => (await stateEvent(bob, roomId, 'm.room.topic'))?.topic === 'set on A');
  // Bob (power 0) may not change the name: refused locally on B.
  const denied = await bob.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`, { name: 'nope' });
  assert.equal(denied.status, 403);
  // Alice raises Bob's power; Bob then changes the name, A sees it.
  const pl = await stateEvent(alice, roomId, 'm.room.power_levels');
  pl.users[bob.userId] = 50;
  assert.equal((await alice.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`, pl)).status, 200);
  await waitFor('B sees its new power', async () => (await stateEvent(bob, roomId, 'm.room.power_levels'))?.users?.[bob.userId] === 50);
  const named = await bob.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`, { name: 'renamed on B' });
  assert.equal(named.status, 200);
  await waitFor('A sees the new name', async () => (await stateEvent(alice, roomId, 'm.room.name'))?.name === 'renamed on B');
});

test('a leave on B reaches A', async () => {
  assert.equal((await bob.api.post(`/rooms/${encodeURIComponent(roomId)}/leave`, {})).status, 200);
  await waitFor('A sees bob left', async () => (await stateEvent(alice, roomId, 'm.room.member', bob.userId))?.membership === 'leave');
});
