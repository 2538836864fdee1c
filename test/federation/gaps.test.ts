/**
 * Gaps in what a server received: events lost in transit are fetched with /get_missing_events
 * when a later event cites them; a gap too long for that is bridged with the state at the
 * missing event (/state_ids), so the room's state is right even where history is missing.
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

/** Events sent while B is down and then dropped from A's queue never reach B by /send. */
async function lose(fn: () => Promise<void>): Promise<void> {
  await B().stop();
  await fn();
  const s = A().test.server.services;
  await s.db.write(async (tx) => {
    await tx.run('DELETE FROM federation_outbox WHERE destination = ?', [B().name]);
    await tx.run('UPDATE destinations SET pending_txn = NULL, failures = 0, retry_at = 0 WHERE server_name = ?', [B().name]);
  });
  await B().start();
  refresh(bob);
}

before(async () => {
  ({ fed, alice, bob, roomId } = await startTwoServerRoom({ room: { name: 'gappy' } }));
});
after(async () => {
  await fed.cleanup();
});

test('a short gap is filled with /get_missing_events', async () => {
  await lose(async () => {
    for (let i = 0; i < 3; i++) await send(alice, roomId, `lost ${i}`);
  });
  await send(alice, roomId, 'after the gap');
  await waitFor('B has the gap filled', async () => {
    const bodies = await messageBodies(bob, roomId);
    return ['lost 0', 'lost 1', 'lost 2', 'after the gap'].every((b) => bodies.includes(b));
  });
  const bodies = (await messageBodies(bob, roomId)).filter((b) => b.startsWith('lost') || b === 'after the gap');
  assert.deepEqual(bodies, ['lost 0', 'lost 1', 'lost 2', 'after the gap']);
});

test('a long gap is bridged with the state at the missing event', async () => {
  await lose(async () => {
    assert.equal((await alice.api.put(`/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`, { topic: 'changed during the gap' })).status, 200);
    for (let i = 0; i < 15; i++) await send(alice, roomId, `long gap ${i}`);
  });
  await send(alice, roomId, 'after the long gap');
  await waitFor('B has the new message', async () => (await messageBodies(bob, roomId, 100)).includes('after the long gap'));
  // The topic change is older than what /get_missing_events returned, yet B knows it.
  assert.equal((await stateEvent(bob, roomId, 'm.room.topic'))?.topic, 'changed during the gap');
  // And the room keeps working both ways.
  await send(bob, roomId, 'B still talks');
  await waitFor('A has it', async () => (await messageBodies(alice, roomId)).includes('B still talks'));
});
