/**
 * Real clients, real crypto: matrix-js-sdk 36 with its Rust crypto talks to Hearth. Encrypted DM
 * and encrypted group room (each side decrypts the other), cross-signing bootstrap, SAS
 * verification between two users, and a later device of the same user reading old messages
 * through server-side key backup.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { MatrixClient } from 'matrix-js-sdk';
import { CryptoEvent, VerificationPhase, VerifierEvent, type VerificationRequest } from 'matrix-js-sdk/lib/crypto-api/index.js';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { api, registerUser, type TestUser } from '../helpers/clients.ts';
import {
  acceptInvite,
  createEncryptedRoom,
  encryptedDmBothWays,
  newDeviceWithRecoveryKey,
  passwordUia,
  SecretStorageKeyHolder,
  setUpSecureBackup,
  startClient,
  stopClients,
  waitFor,
  waitForDecrypted,
  waitForRoom,
} from './e2ee-sdk-helpers.ts';

let srv: TestServer;
const clients: MatrixClient[] = [];
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let aliceC: MatrixClient;
let bobC: MatrixClient;
let carolC: MatrixClient;
const aliceKey = new SecretStorageKeyHolder();
const aliceApi = () => api(srv.baseUrl, alice.accessToken);

before(async () => {
  srv = await startTestServer({ open_registration: true });
  [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => registerUser(srv.baseUrl, n, `pw-${n}-secret`)));
  [aliceC, bobC, carolC] = await Promise.all([
    startClient(srv.baseUrl, alice, aliceKey.callbacks()),
    startClient(srv.baseUrl, bob),
    startClient(srv.baseUrl, carol),
  ]);
  clients.push(aliceC, bobC, carolC);
});

after(async () => {
  await stopClients(clients);
  await srv.cleanup();
});

test('encrypted DM: each side decrypts the other', async () => {
  await encryptedDmBothWays({ client: aliceC, user: alice }, { client: bobC, user: bob }, ['hello bob, this is secret', 'hi alice, got it']);
});

test('encrypted group room: three users, everyone decrypts everyone', async () => {
  const roomId = await createEncryptedRoom(aliceC, [bob.userId, carol.userId], { name: 'secret group' });
  await Promise.all([acceptInvite(bobC, roomId), acceptInvite(carolC, roomId)]);
  const pairs: Array<[MatrixClient, string]> = [
    [aliceC, 'from alice to the group'],
    [bobC, 'from bob to the group'],
    [carolC, 'from carol to the group'],
  ];
  for (const [sender, body] of pairs) {
    await waitForRoom(sender, roomId);
    await sender.sendTextMessage(roomId, body);
    for (const c of [aliceC, bobC, carolC]) {
      if (c === sender) continue;
      const ev = await waitForDecrypted(c, roomId, body);
      assert.equal(ev.getWireType(), 'm.room.encrypted');
    }
  }
});

test('cross-signing bootstrap with secret storage and key backup; a later device reads old messages from the backup', async () => {
  const crypto = aliceC.getCrypto()!;
  await setUpSecureBackup(aliceC, alice, aliceKey, { keyBackup: true });
  assert.equal(await crypto.isCrossSigningReady(), true);
  assert.equal((await crypto.getDeviceVerificationStatus(alice.userId, alice.deviceId))?.crossSigningVerified, true, 'the bootstrapping device signed itself');
  await crypto.checkKeyBackupAndEnable();
  const backupVersion = await crypto.getActiveSessionBackupVersion();
  assert.ok(backupVersion, 'key backup is on');
  const info = await aliceApi().get('/room_keys/version');
  assert.equal(info.body.version, backupVersion);

  // A message in a new encrypted room: its room key goes to the server-side backup.
  const roomId = await createEncryptedRoom(aliceC, [bob.userId]);
  await acceptInvite(bobC, roomId);
  await waitForRoom(aliceC, roomId);
  await aliceC.sendTextMessage(roomId, 'written before the new device existed');
  await waitFor('the room key in the backup', async () => (await aliceApi().get(`/room_keys/keys/${encodeURIComponent(roomId)}`, { version: backupVersion })).body.sessions && Object.keys((await aliceApi().get(`/room_keys/keys/${encodeURIComponent(roomId)}`, { version: backupVersion })).body.sessions).length > 0, 40_000);

  // Alice logs in on a third device: no Olm session ever carried that room key to it. Its
  // cross-signing keys come from secret storage: the new device signs itself.
  const laterC = await newDeviceWithRecoveryKey(srv.baseUrl, alice, aliceKey, clients);
  const laterCrypto = laterC.getCrypto()!;
  assert.equal(await laterCrypto.isCrossSigningReady(), true);
  await laterCrypto.loadSessionBackupPrivateKeyFromSecretStorage();
  await laterCrypto.checkKeyBackupAndEnable();
  const restored = await laterCrypto.restoreKeyBackup();
  assert.ok(restored.imported >= 1, `imported ${restored.imported} keys from the backup`);
  await waitForDecrypted(laterC, roomId, 'written before the new device existed');

  // The first device sees the new one as verified through cross-signing.
  const seen = await waitFor('the new device cross-signed, as seen by the first device', async () => {
    const st = await crypto.getDeviceVerificationStatus(alice.userId, laterC.getDeviceId()!);
    return st?.crossSigningVerified ? st : undefined;
  });
  assert.equal(seen.isVerified(), true);
});

test('SAS verification between two users: each sees the other verified', async () => {
  await bobC.getCrypto()!.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordUia(bob) });
  const aliceCrypto = aliceC.getCrypto()!;
  const bobCrypto = bobC.getCrypto()!;
  // Before: Bob is an unverified stranger to Alice.
  await waitFor('bob devices known to alice', async () => (await aliceCrypto.getUserDeviceInfo([bob.userId])).get(bob.userId)?.get(bob.deviceId));
  assert.equal((await aliceCrypto.getDeviceVerificationStatus(bob.userId, bob.deviceId))?.isVerified(), false);

  const incoming = new Promise<VerificationRequest>((resolve) => bobC.once(CryptoEvent.VerificationRequestReceived, resolve));
  const request = await aliceCrypto.requestDeviceVerification(bob.userId, bob.deviceId);
  const bobRequest = await incoming;
  await bobRequest.accept();
  await waitFor('request ready', () => request.phase === VerificationPhase.Ready);
  const aliceVerifier = await request.startVerification('m.sas.v1');
  const bobVerifier = await waitFor('bob verifier', () => bobRequest.verifier);
  const shown: string[][] = [];
  for (const v of [aliceVerifier, bobVerifier]) {
    v.on(VerifierEvent.ShowSas, (sas) => {
      shown.push((sas.sas.emoji ?? []).map((e) => e[1]));
      void sas.confirm();
    });
  }
  await Promise.all([aliceVerifier.verify(), bobVerifier.verify()]);
  assert.equal(shown.length, 2);
  assert.deepEqual(shown[0], shown[1], 'both sides showed the same emoji');

  assert.equal((await aliceCrypto.getDeviceVerificationStatus(bob.userId, bob.deviceId))?.isVerified(), true);
  assert.equal((await bobCrypto.getDeviceVerificationStatus(alice.userId, alice.deviceId))?.isVerified(), true);
  // Verification signs the other user's master key with the user-signing key (/keys/signatures/upload).
  const aliceSeesBob = await waitFor('bob cross-signing verified for alice', async () => ((await aliceCrypto.getUserVerificationStatus(bob.userId)).isCrossSigningVerified() ? true : undefined));
  assert.equal(aliceSeesBob, true);
  const bobSeesAlice = await waitFor('alice cross-signing verified for bob', async () => ((await bobCrypto.getUserVerificationStatus(alice.userId)).isCrossSigningVerified() ? true : undefined));
  assert.equal(bobSeesAlice, true);
});

test('dehydrated device (MSC3814): a message sent while the user had no device is read after the next login', async () => {
  const dora = await registerUser(srv.baseUrl, 'dora', 'pw-dora-secret');
  const doraKey = new SecretStorageKeyHolder();
  const first = await startClient(srv.baseUrl, dora, doraKey.callbacks());
  clients.push(first);
  const c1 = first.getCrypto()!;
  await setUpSecureBackup(first, dora, doraKey);
  assert.equal(await c1.isDehydrationSupported(), true);
  // The secrets are account data: ready once /sync brought them back to the client.
  await waitFor('secret storage ready', () => c1.isSecretStorageReady());
  await c1.startDehydration({ createNewKey: true });
  const stored = await api(srv.baseUrl, dora.accessToken).get('/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device');
  assert.equal(stored.status, 200);

  const roomId = await createEncryptedRoom(bobC, [dora.userId]);
  await acceptInvite(first, roomId);
  // Dora logs out everywhere: only the dehydrated device is left to receive the room key.
  await first.logout(true);
  await waitFor('dora has no logged-in device', async () => {
    const devices = (await bobC.getCrypto()!.getUserDeviceInfo([dora.userId], true)).get(dora.userId);
    return devices && [...devices.keys()].every((id) => id === stored.body.device_id) ? true : undefined;
  });
  await bobC.sendTextMessage(roomId, 'for dora, who is offline');

  const second = await newDeviceWithRecoveryKey(srv.baseUrl, dora, doraKey, clients);
  const c2 = second.getCrypto()!;
  await waitFor('secret storage ready on the new device', () => c2.isSecretStorageReady());
  let roomKeysFromDehydrated = 0;
  second.on(CryptoEvent.RehydrationProgress, (roomKeys: number) => {
    roomKeysFromDehydrated = roomKeys;
  });
  await c2.startDehydration({ rehydrate: true });
  assert.ok(roomKeysFromDehydrated >= 1, 'the room key came from the dehydrated device inbox');
  await waitForDecrypted(second, roomId, 'for dora, who is offline');
});
