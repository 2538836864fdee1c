/**
 * History after a late join: B joins a room with history on A; paginating /messages backwards
 * on B reaches B's first event and continues into A's history (GET /backfill), in order, down to
 * the room's creation. Also the history endpoints a server in the room may use directly.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFederation, startTwoServerRoom, type Federation } from '../helpers/federation.ts';
import { send, waitFor, stateEvent, type FedUser } from '../helpers/fed-clients.ts';
import type { Services } from '../../server/services/container.ts';

let fed: Federation;
let alice: FedUser;
let bob: FedUser;
let roomId: string;
const A = () => fed.servers[0]!;
const svc = (i: number): Services => fed.servers[i]!.test.server.services;
const N = 30;

before(async () => {
  ({ fed, alice, bob, roomId } = await startTwoServerRoom({
    room: { name: 'history', initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'shared' } }] },
    beforeJoin: async (alice, roomId) => {
      for (let i = 0; i < N; i++) await send(alice, roomId, `old ${i}`);
    },
  }));
});
after(async () => {
  await fed.cleanup();
});

test('paginating back on B fetches A’s older history in order, down to the creation', async () => {
  const events: any[] = [];
  let from: string | undefined;
  for (let page = 0; page < 20; page++) {
    const r = await bob.api.get(`/rooms/${encodeURIComponent(roomId)}/messages`, { dir: 'b', limit: 10, from });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    events.push(...r.body.chunk);
    if (!r.body.end) break;
    from = r.body.end;
  }
  const bodies = events.filter((e) => e.type === 'm.room.message').map((e) => e.content.body).reverse();
  assert.deepEqual(bodies, Array.from({ length: N }, (_, i) => `old ${i}`));
  // Newest first from B's join back to the room's creation.
  assert.equal(events[0].type, 'm.room.member');
  assert.equal(events[0].state_key, bob.userId);
  assert.equal(events.at(-1).type, 'm.room.create');
  // No duplicates.
  assert.equal(new Set(events.map((e) => e.event_id)).size, events.length);
});

test('history endpoints answer servers in the room and refuse others', async () => {
  const client = svc(1).federation.client;
  const firstMsg = (await svc(0).roomCore.events.timeline(roomId, 'b', svc(0).roomCore.eventStream.current, 200)).find((r) => r.type === 'm.room.message')!;
  const got = await client.request<any>(A().name, 'GET', `/_matrix/federation/v1/event/${encodeURIComponent(firstMsg.event_id)}`);
  assert.equal(got.pdus.length, 1);
  const ids = await client.request<any>(A().name, 'GET', `/_matrix/federation/v1/state_ids/${encodeURIComponent(roomId)}`, { query: { event_id: firstMsg.event_id } });
  assert.ok(ids.pdu_ids.length >= 5 && ids.auth_chain_ids.length >= 1, JSON.stringify(ids));
  const auth = await client.request<any>(A().name, 'GET', `/_matrix/federation/v1/event_auth/${encodeURIComponent(roomId)}/${encodeURIComponent(firstMsg.event_id)}`);
  // (In v12 the create event is not an auth event; the sender's membership is.)
  assert.ok(auth.auth_chain.some((e: any) => e.type === 'm.room.member' && e.state_key === alice.userId), 'auth chain has alice’s join');
  const missing = await client.request<any>(A().name, 'POST', `/_matrix/federation/v1/get_missing_events/${encodeURIComponent(roomId)}`, {
    body: { earliest_events: [], latest_events: [firstMsg.event_id], limit: 3 },
  });
  assert.equal(missing.events.length, 3);

  // A third server with nobody in the room sees nothing.
  const third = await startFederation(1, {}, { certs: fed.certs });
  try {
    const c = third.servers[0]!.test.server.services.federation.client;
    await assert.rejects(
      c.request(A().name, 'GET', `/_matrix/federation/v1/state_ids/${encodeURIComponent(roomId)}`, { query: { event_id: firstMsg.event_id } }),
      (e: any) => e.status === 403,
    );
    await assert.rejects(c.request(A().name, 'GET', `/_matrix/federation/v1/event/${encodeURIComponent(firstMsg.event_id)}`), (e: any) => e.status === 403);
  } finally {
    await third.cleanup();
  }
});

test('a server ACL denying B cuts it off', async () => {
  const r = await alice.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.server_acl/`, { allow: ['*'], deny: ['localhost'], allow_ip_literals: true });
  assert.equal(r.status, 200);
  // B still receives the ACL itself ("servers should still send events to denied servers if they are still residents").
  await waitFor('B has the ACL', async () => (await stateEvent(bob, roomId, 'm.room.server_acl'))?.deny?.includes('localhost'));
  const client = svc(1).federation.client;
  await assert.rejects(
    client.request(A().name, 'GET', `/_matrix/federation/v1/state_ids/${encodeURIComponent(roomId)}`, { query: { event_id: (await svc(0).roomCore.events.getExtremities(roomId))[0]! } }),
    (e: any) => e.status === 403 && e.errcode === 'M_FORBIDDEN',
  );
  // PDUs from B are refused per PDU.
  await bob.api.put(`/rooms/${encodeURIComponent(roomId)}/send/m.room.message/acl1`, { msgtype: 'm.text', body: 'from a denied server' });
  await new Promise((r) => setTimeout(r, 500));
  const onA = await alice.api.get(`/rooms/${encodeURIComponent(roomId)}/messages`, { dir: 'b', limit: 5 });
  assert.ok(!JSON.stringify(onA.body).includes('from a denied server'), 'denied server’s message not on A');
});
