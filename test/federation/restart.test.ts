/**
 * Delivery across restarts: events queued for a server that is down are delivered exactly once
 * when it comes back (more than one transaction's worth), also when the sending server restarts
 * in between (the queue lives in SQLite); and a room partitioned while both sides change state
 * converges to the same state on both once they talk again (state resolution on the fork).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTwoServerRoom, type Federation } from '../helpers/federation.ts';
import { messageBodies, refresh, send, stateEvent, waitFor, type FedUser } from '../helpers/fed-clients.ts';

let fed: Federation;
let alice: FedUser;
let bob: FedUser;
let roomId: string;
const A = () => fed.servers[0]!;
const B = () => fed.servers[1]!;

before(async () => {
  ({ fed, alice, bob, roomId } = await startTwoServerRoom({
    room: (bob) => ({ name: 'durable', power_level_content_override: { users: { [bob.userId]: 100 } } }),
  }));
});
after(async () => {
  await fed.cleanup();
});

function count(list: string[], prefix: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const b of list) if (b.startsWith(prefix)) m.set(b, (m.get(b) ?? 0) + 1);
  return m;
}

test('a destination that was down gets every queued event exactly once', async () => {
  await B().stop();
  const n = 60; // more than the 50 PDUs one transaction may hold
  for (let i = 0; i < n; i++) await send(alice, roomId, `queued ${i}`);
  const queued = await A().test.server.services.federation.queue.count(B().name);
  assert.ok(queued >= n, `queued ${queued}`);
  await B().start();
  refresh(bob);
  await waitFor(
    'B has all queued messages',
    async () => (await messageBodies(bob, roomId, 200)).filter((b) => b.startsWith('queued ')).length >= n,
    20_000,
  );
  const counts = count(await messageBodies(bob, roomId, 200), 'queued ');
  assert.equal(counts.size, n);
  assert.ok([...counts.values()].every((c) => c === 1), 'each exactly once');
  // In order.
  const bodies = (await messageBodies(bob, roomId, 200)).filter((b) => b.startsWith('queued '));
  assert.deepEqual(bodies, Array.from({ length: n }, (_, i) => `queued ${i}`));
  await waitFor('A’s queue drained', async () => (await A().test.server.services.federation.queue.count(B().name)) === 0);
});

test('the queue survives a restart of the sending server', async () => {
  await B().stop();
  for (let i = 0; i < 5; i++) await send(alice, roomId, `persisted ${i}`);
  await A().stop();
  await A().start();
  refresh(alice);
  await B().start();
  refresh(bob);
  await waitFor('B has the messages sent before A restarted', async () => (await messageBodies(bob, roomId, 200)).filter((b) => b.startsWith('persisted ')).length >= 5, 20_000);
  const counts = count(await messageBodies(bob, roomId, 200), 'persisted ');
  assert.equal(counts.size, 5);
  assert.ok([...counts.values()].every((c) => c === 1), '[...counts.values()].every((c) => c === 1)');
});

test('a partitioned room converges on both sides after both changed state', async () => {
  // Partition: B down while A changes state; then A down while B changes state.
  await B().stop();
  assert.equal((await alice.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: 'topic from A' })).status, 200);
  assert.equal((await alice.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`, { name: 'name from A' })).status, 200);
  await send(alice, roomId, 'A during partition');
  await A().stop();
  await B().start();
  refresh(bob);
  assert.equal((await bob.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: 'topic from B' })).status, 200);
  assert.equal((await bob.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.avatar/`, { url: 'mxc://b/avatar' })).status, 200);
  await send(bob, roomId, 'B during partition');
  await A().start();
  refresh(alice);

  // Each side receives the other's branch.
  await waitFor('A has B’s message', async () => (await messageBodies(alice, roomId, 200)).includes('B during partition'), 20_000);
  await waitFor('B has A’s message', async () => (await messageBodies(bob, roomId, 200)).includes('A during partition'), 20_000);
  // A new event on each side merges the forks.
  await send(alice, roomId, 'merge A');
  await send(bob, roomId, 'merge B');
  await waitFor('both merges on both', async () => {
    const a = await messageBodies(alice, roomId, 200);
    const b = await messageBodies(bob, roomId, 200);
    return a.includes('merge B') && b.includes('merge A');
  }, 20_000);

  const stateOf = async (u: FedUser) => {
    const r = await u.api.get(`/rooms/${encodeURIComponent(roomId)}/state`);
    assert.equal(r.status, 200);
    return Object.fromEntries((r.body as any[]).map((e) => [`${e.type}|${e.state_key}`, e.event_id]).sort());
  };
  await waitFor('the same state on both sides', async () => JSON.stringify(await stateOf(alice)) === JSON.stringify(await stateOf(bob)), 20_000);
  // Non-conflicting changes of both sides survive; the conflicting topic is one of the two, the same on both.
  assert.equal((await stateEvent(alice, roomId, 'm.room.name'))?.name, 'name from A');
  assert.equal((await stateEvent(bob, roomId, 'm.room.avatar'))?.url, 'mxc://b/avatar');
  const topicA = (await stateEvent(alice, roomId, 'm.room.topic'))?.topic;
  assert.ok(topicA === 'topic from A' || topicA === 'topic from B', "topicA === 'topic from A' || topicA === 'topic from B'");
  assert.equal((await stateEvent(bob, roomId, 'm.room.topic'))?.topic, topicA);
});

test('a destination that contacts us is retried at once, not at its next backoff time', async () => {
  await B().stop();
  await send(alice, roomId, 'queued before the long outage');
  const fedA = A().test.server.services.federation;
  await waitFor('A notices B is down', async () => ((await fedA.destinations.get(B().name))?.failures ?? 0) >= 1);
  // As after a long outage: the next attempt is ten minutes away.
  await fedA.destinations.markFailure(B().name, 12, Date.now() + 600_000, 'long outage', Date.now());
  await B().start();
  refresh(bob);
  // B talks to A (a message from bob): A wakes its queue for B.
  await send(bob, roomId, 'B is back');
  await waitFor('A has B’s message', async () => (await messageBodies(alice, roomId, 200)).includes('B is back'), 20_000);
  await waitFor('B gets the queued message long before the backoff ends', async () => (await messageBodies(bob, roomId, 200)).includes('queued before the long outage'), 20_000);
  assert.equal((await fedA.destinations.get(B().name))?.failures, 0);
});
