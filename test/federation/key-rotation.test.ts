/**
 * Signing key rotation (`hearth federation rotate-key`): after a restart the server signs with
 * the new key, publishes the old one under old_verify_keys with its expiry, other servers accept
 * its new events and still verify the old ones; `hearth federation status` and the dashboard's
 * federation health report a destination that is down.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFederation, startTwoServerRoom, type Federation } from '../helpers/federation.ts';
import { fedUser, join, messageBodies, refresh, send, waitFor, type FedUser } from '../helpers/fed-clients.ts';
import { api } from '../helpers/clients.ts';
import { hearth } from '../helpers/cli.ts';
import { readServerKeys } from '../../server/protocol/signing.ts';

let fed: Federation;
let alice: FedUser;
let bob: FedUser;
let roomId: string;
const A = () => fed.servers[0]!;
const B = () => fed.servers[1]!;

before(async () => {
  ({ fed, alice, bob, roomId } = await startTwoServerRoom({ room: { name: 'keys' } }));
  await send(alice, roomId, 'signed with the first key');
  await waitFor('B has the first message', async () => (await messageBodies(bob, roomId)).includes('signed with the first key'));
});
after(async () => {
  await fed.cleanup();
});

test('rotate-key: new key in use after a restart, the old one published as old_verify_keys', async () => {
  const oldKeyId = A().test.server.services.signingKeys[0]!.keyId;
  await A().stop();
  const r = hearth(['federation', 'rotate-key', '--data-dir', A().dataDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /new signing key ed25519:/);
  await A().start();
  refresh(alice);
  const newKeyId = A().test.server.services.signingKeys[0]!.keyId;
  assert.notEqual(newKeyId, oldKeyId);

  const keys = (await api(A().baseUrl).get('/_matrix/key/v2/server')).body;
  assert.deepEqual(Object.keys(keys.verify_keys), [newKeyId]);
  assert.ok(keys.old_verify_keys[oldKeyId]?.expired_ts <= Date.now(), 'old key listed with its expiry');
  assert.ok(readServerKeys(keys, A().name, Date.now()) instanceof Map, 'self-signed with the new key');

  // New events (signed with the new key, unknown to B until it refetches) reach B.
  await send(alice, roomId, 'signed with the second key');
  await waitFor('B has the second message', async () => (await messageBodies(bob, roomId)).includes('signed with the second key'));
  // B answers requests signed with the new key, and a new server still verifies A's old events.
  const third = await startFederation(1, {}, { certs: fed.certs });
  try {
    const carol = await fedUser(third.servers[0]!, 'carol');
    await join(carol, roomId, [A().name]);
    const history = await carol.api.get(`/rooms/${encodeURIComponent(roomId)}/messages`, { dir: 'b', limit: 50 });
    assert.ok(JSON.stringify(history.body).includes('signed with the first key'), 'old event verified with the old key');
  } finally {
    await third.cleanup();
  }
});

test('status and dashboard health report a destination that is down', async () => {
  await B().stop();
  await send(alice, roomId, 'while B is down');
  await waitFor('A notices B is down', async () => (await A().test.server.services.federation.health()).failing.some((f) => f.server === B().name), 10_000);
  const health = await A().test.server.services.appliance.federationHealth!.health();
  assert.ok(health.destinations >= 1 && health.queueLength >= 1, JSON.stringify(health));
  const failing = health.failing.find((f) => f.server === B().name)!;
  assert.ok(failing.since <= Date.now() && failing.lastError.length > 0, JSON.stringify(failing));
  await A().stop();
  const r = hearth(['federation', 'status', '--json', '--data-dir', A().dataDir]);
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Array<{ server: string; failures: number; queued: number }>;
  const b = rows.find((x) => x.server === B().name)!;
  assert.ok(b.failures >= 1 && b.queued >= 1, JSON.stringify(rows));
  await A().start();
  await B().start();
});
