/**
 * Three real Hearth instances: a private room created on A, users on B and C invited (invite v2,
 * signed by their servers) and joining through the invite; messages, state, typing and read
 * receipts flow between all three; an invite rejected from C reaches A; profiles are looked up
 * across servers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFederation, type Federation } from '../helpers/federation.ts';
import { createRoom, fedUser, messageBodies, send, stateEvent, waitFor, type FedUser } from '../helpers/fed-clients.ts';

let fed: Federation;
let alice: FedUser;
let bob: FedUser;
let carol: FedUser;
let dave: FedUser;
let roomId: string;

async function sync(u: FedUser, since?: string, timeout = 0): Promise<any> {
  const r = await u.api.get('/sync', { since, timeout });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

before(async () => {
  fed = await startFederation(3);
  alice = await fedUser(fed.servers[0]!, 'alice');
  bob = await fedUser(fed.servers[1]!, 'bob');
  carol = await fedUser(fed.servers[2]!, 'carol');
  dave = await fedUser(fed.servers[2]!, 'dave');
});
after(async () => {
  await fed.cleanup();
});

test('invites from A reach B and C with stripped state; both join through them', async () => {
  roomId = await createRoom(alice, { preset: 'private_chat', name: 'Three servers', topic: 'hello' });
  for (const u of [bob, carol]) {
    const r = await alice.api.post(`/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: u.userId });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  // B's client sees the invite with the room's name in invite_state.
  const s = await waitFor('bob’s invite in /sync', async () => {
    const body = await sync(bob);
    return body.rooms?.invite?.[roomId];
  });
  const events = s.invite_state.events as any[];
  assert.ok(events.some((e) => e.type === 'm.room.name' && e.content.name === 'Three servers'), JSON.stringify(events));
  assert.ok(events.some((e) => e.type === 'm.room.member' && e.state_key === bob.userId && e.content.membership === 'invite'), "events.some((e) => e.type === 'm.room.member' && e.state_key");

  for (const u of [bob, carol]) {
    const r = await u.api.post(`/join/${encodeURIComponent(roomId)}`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  for (const viewer of [alice, bob, carol]) {
    for (const member of [bob, carol]) {
      await waitFor(`${viewer.localpart} sees ${member.localpart} joined`, async () => (await stateEvent(viewer, roomId, 'm.room.member', member.userId))?.membership === 'join');
    }
  }
  // The joined room shows up in B's /sync with its timeline.
  const body = await sync(bob);
  assert.ok(body.rooms?.join?.[roomId], 'room in join section');
});

test('messages from each server reach the other two', async () => {
  await send(alice, roomId, 'from A');
  await send(bob, roomId, 'from B');
  await send(carol, roomId, 'from C');
  for (const u of [alice, bob, carol]) {
    await waitFor(`${u.localpart} has all three messages`, async () => {
      const bodies = await messageBodies(u, roomId);
      return ['from A', 'from B', 'from C'].every((b) => bodies.includes(b));
    });
  }
});

test('state set on C reaches A and B', async () => {
  const pl = await stateEvent(alice, roomId, 'm.room.power_levels');
  pl.users[carol.userId] = 100;
  assert.equal((await alice.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`, pl)).status, 200);
  await waitFor('C sees its power', async () => (await stateEvent(carol, roomId, 'm.room.power_levels'))?.users?.[carol.userId] === 100);
  assert.equal((await carol.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: 'from C' })).status, 200);
  for (const u of [alice, bob]) await waitFor(`${u.localpart} sees the topic`, async () => (await stateEvent(u, roomId, 'm.room.topic'))?.topic === 'from C');
});

test('typing notifications and read receipts reach the other servers', async () => {
  const start = await sync(alice);
  assert.equal((await bob.api.put(`/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(bob.userId)}`, { typing: true, timeout: 10_000 })).status, 200);
  let since = start.next_batch;
  await waitFor('A sees bob typing', async () => {
    const body = await sync(alice, since, 1000);
    since = body.next_batch;
    const typing = body.rooms?.join?.[roomId]?.ephemeral?.events?.find((e: any) => e.type === 'm.typing');
    return typing?.content.user_ids.includes(bob.userId);
  });
  const eventId = await send(alice, roomId, 'read me');
  await waitFor('C has the message', async () => (await messageBodies(carol, roomId)).includes('read me'));
  assert.equal((await carol.api.post(`/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`, {})).status, 200);
  await waitFor('A sees carol’s receipt', async () => {
    const body = await sync(alice, since, 1000);
    since = body.next_batch;
    const receipt = body.rooms?.join?.[roomId]?.ephemeral?.events?.find((e: any) => e.type === 'm.receipt');
    return receipt?.content?.[eventId]?.['m.read']?.[carol.userId];
  });
});

test('a rejected invite reaches the inviting server', async () => {
  assert.equal((await alice.api.post(`/rooms/${encodeURIComponent(roomId)}/invite`, { user_id: dave.userId })).status, 200);
  await waitFor('dave’s invite', async () => (await sync(dave)).rooms?.invite?.[roomId]);
  // C is in the room (carol joined), so dave's leave is an ordinary event from C.
  assert.equal((await dave.api.post(`/rooms/${encodeURIComponent(roomId)}/leave`, {})).status, 200);
  await waitFor('A sees dave’s rejection', async () => (await stateEvent(alice, roomId, 'm.room.member', dave.userId))?.membership === 'leave');
});

test('profiles are looked up over federation', async () => {
  assert.equal((await carol.api.put(`/profile/${encodeURIComponent(carol.userId)}/displayname`, { displayname: 'Carol C' })).status, 200);
  const r = await alice.api.get(`/profile/${encodeURIComponent(carol.userId)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.displayname, 'Carol C');
  const missing = await alice.api.get(`/profile/${encodeURIComponent('@nobody:' + fed.servers[2]!.name)}`);
  assert.equal(missing.status, 404);
});
