/**
 * End-to-end encryption between users on different servers, with matrix-js-sdk 36 and its Rust
 * crypto as the clients: device keys queried and one-time keys claimed over federation
 * (/user/keys/query, /user/keys/claim), room keys sent as to-device messages
 * (m.direct_to_device EDUs), device list changes (m.device_list_update); each side decrypts.
 */
import { test, before, after } from 'node:test';
import type { MatrixClient } from 'matrix-js-sdk';
import { startFederation, type Federation } from '../helpers/federation.ts';
import { registerUser, type TestUser } from '../helpers/clients.ts';
import { acceptInvite, createEncryptedRoom, encryptedDmBothWays, startClient, stopClients, waitFor, waitForDecrypted, waitForRoom } from '../e2e/e2ee-sdk-helpers.ts';

let fed: Federation;
const clients: MatrixClient[] = [];
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let aliceC: MatrixClient;
let bobC: MatrixClient;
let carolC: MatrixClient;

before(async () => {
  fed = await startFederation(3);
  alice = await registerUser(fed.servers[0]!.baseUrl, 'alice', 'pw-alice-secret');
  bob = await registerUser(fed.servers[1]!.baseUrl, 'bob', 'pw-bob-secret');
  carol = await registerUser(fed.servers[2]!.baseUrl, 'carol', 'pw-carol-secret');
  [aliceC, bobC, carolC] = await Promise.all([
    startClient(fed.servers[0]!.baseUrl, alice),
    startClient(fed.servers[1]!.baseUrl, bob),
    startClient(fed.servers[2]!.baseUrl, carol),
  ]);
  clients.push(aliceC, bobC, carolC);
});

after(async () => {
  await stopClients(clients);
  await fed.cleanup();
});

test('encrypted DM across two servers: each side decrypts the other', async () => {
  await encryptedDmBothWays({ client: aliceC, user: alice }, { client: bobC, user: bob }, ['hello bob on another server', 'hi alice, decrypted on B']);
});

test('encrypted room across three servers: everyone decrypts everyone', async () => {
  const roomId = await createEncryptedRoom(aliceC, [bob.userId, carol.userId], { name: 'secret across servers' });
  // Joins one after the other: when B and C join at the same moment, C's send_join state may not
  // yet hold B's join, so C sends its join to A only, and B learns of it only when a later event
  // points at it (the protocol's normal gap filling). The test then waited on a room where nobody
  // speaks until everyone is joined, which timed out under CI load.
  await acceptInvite(bobC, roomId);
  await waitFor('bob joined at A', () => aliceC.getRoom(roomId)?.getMember(bob.userId)?.membership === 'join');
  await acceptInvite(carolC, roomId);
  await waitForRoom(aliceC, roomId);
  for (const c of [aliceC, bobC, carolC]) {
    await waitFor('everyone joined everywhere', () => [alice, bob, carol].every((u) => c.getRoom(roomId)?.getMember(u.userId)?.membership === 'join'));
  }
  await carolC.sendTextMessage(roomId, 'from carol on C');
  await Promise.all([waitForDecrypted(aliceC, roomId, 'from carol on C'), waitForDecrypted(bobC, roomId, 'from carol on C')]);
  await bobC.sendTextMessage(roomId, 'from bob on B');
  await Promise.all([waitForDecrypted(aliceC, roomId, 'from bob on B'), waitForDecrypted(carolC, roomId, 'from bob on B')]);
});
