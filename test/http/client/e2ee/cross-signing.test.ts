/**
 * Cross-signing over real HTTP (cross_signing.yaml; end_to_end_encryption.md "Cross-signing"):
 * the first key upload needs no UIA, replacing keys does; signatures are checked and shown only
 * to those allowed to see them.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../helpers/server.ts';
import { registerUser } from '../../../helpers/clients.ts';
import { crossSigningKey, crossSigningSet, FakeDevice, newSigningKey, signWith, withDeviceKeys, type KeyedUser } from './e2ee-helpers.ts';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ open_registration: true });
});
after(async () => {
  await srv.cleanup();
});

async function keyedUser(): Promise<KeyedUser> {
  return withDeviceKeys(srv.baseUrl, await registerUser(srv.baseUrl));
}

function passwordAuth(u: KeyedUser, session: string) {
  return { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password, session };
}

test('first upload needs no UIA; a repeat is idempotent; replacing the keys needs the password', async () => {
  const alice = await keyedUser();
  const set = crossSigningSet(alice.userId);
  const first = await alice.api.post('/keys/device_signing/upload', set.body);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const again = await alice.api.post('/keys/device_signing/upload', set.body);
  assert.equal(again.status, 200, 'the same keys again (a lost response retried) need no UIA');

  const next = crossSigningSet(alice.userId);
  const challenged = await alice.api.post('/keys/device_signing/upload', next.body);
  assert.equal(challenged.status, 401);
  assert.deepEqual(challenged.body.flows, [{ stages: ['m.login.password'] }]);
  const q1 = await alice.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.deepEqual(q1.body.master_keys[alice.userId].keys, set.body.master_key.keys, 'unchanged without UIA');

  const wrong = await alice.api.post('/keys/device_signing/upload', {
    ...next.body,
    auth: { ...passwordAuth(alice, challenged.body.session), password: 'wrong' },
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.errcode, 'M_FORBIDDEN');
  const ok = await alice.api.post('/keys/device_signing/upload', { ...next.body, auth: passwordAuth(alice, challenged.body.session) });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const q2 = await alice.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.deepEqual(q2.body.master_keys[alice.userId].keys, next.body.master_key.keys);
  assert.deepEqual(q2.body.self_signing_keys[alice.userId], next.body.self_signing_key);
  assert.deepEqual(q2.body.user_signing_keys[alice.userId], next.body.user_signing_key, 'own user-signing key is visible to oneself');
});

test('bad uploads: unsigned sub-keys, no master key, wrong owner, key colliding with a device ID', async () => {
  const alice = await keyedUser();
  const set = crossSigningSet(alice.userId);
  const unsigned = await alice.api.post('/keys/device_signing/upload', {
    master_key: set.body.master_key,
    self_signing_key: crossSigningKey(alice.userId, 'self_signing', set.selfSigning),
  });
  assert.equal(unsigned.status, 400);
  assert.equal(unsigned.body.errcode, 'M_INVALID_SIGNATURE');

  const signedByOther = signWith(crossSigningKey(alice.userId, 'self_signing', set.selfSigning), alice.userId, newSigningKey());
  const r2 = await alice.api.post('/keys/device_signing/upload', { master_key: set.body.master_key, self_signing_key: signedByOther });
  assert.equal(r2.body.errcode, 'M_INVALID_SIGNATURE');

  const noMaster = await alice.api.post('/keys/device_signing/upload', { self_signing_key: set.body.self_signing_key });
  assert.equal(noMaster.status, 400);
  assert.equal(noMaster.body.errcode, 'M_MISSING_PARAM');

  const bob = await registerUser(srv.baseUrl);
  const notMine = await alice.api.post('/keys/device_signing/upload', { master_key: crossSigningKey(bob.userId, 'master', set.master) });
  assert.equal(notMine.status, 400);

  // "Servers must ensure that device IDs will not collide with cross-signing public keys."
  const colliding = { user_id: alice.userId, usage: ['master'], keys: { [`ed25519:${alice.device.ed25519}`]: alice.device.ed25519 } };
  const devIdKey = newSigningKey();
  const login = await alice.api.post('/login', {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: alice.userId },
    password: alice.password,
    device_id: devIdKey.pub,
  });
  assert.equal(login.status, 200);
  const clash = await alice.api.post('/keys/device_signing/upload', { master_key: crossSigningKey(alice.userId, 'master', devIdKey) });
  assert.equal(clash.status, 403);
  assert.equal(clash.body.errcode, 'M_FORBIDDEN');
  assert.equal((await alice.api.post('/keys/device_signing/upload', { master_key: colliding })).status, 200, 'a non-colliding key is fine');
});

test('self-signing a device and signing own master key with a device: visible to everyone', async () => {
  const alice = await keyedUser();
  const bob = await keyedUser();
  const set = crossSigningSet(alice.userId);
  await alice.api.post('/keys/device_signing/upload', set.body);

  const deviceSig = signWith(alice.device.deviceKeys(), alice.userId, set.selfSigning);
  const masterSig = alice.device.sign(set.body.master_key);
  const r = await alice.api.post('/keys/signatures/upload', {
    [alice.userId]: { [alice.deviceId]: deviceSig, [set.master.pub]: masterSig },
  });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.failures, {});

  const q = await bob.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  const dev = q.body.device_keys[alice.userId][alice.deviceId];
  assert.equal(dev.signatures[alice.userId][`ed25519:${set.selfSigning.pub}`], (deviceSig.signatures as any)[alice.userId][`ed25519:${set.selfSigning.pub}`]);
  assert.equal(dev.signatures[alice.userId][`ed25519:${alice.deviceId}`], (alice.device.deviceKeys().signatures as any)[alice.userId][`ed25519:${alice.deviceId}`]);
  assert.ok(q.body.master_keys[alice.userId].signatures[alice.userId][`ed25519:${alice.deviceId}`]);
  assert.deepEqual(q.body.self_signing_keys[alice.userId], set.body.self_signing_key);
  assert.equal(q.body.user_signing_keys[alice.userId], undefined, "another user's user-signing key is never shown");
});

test("signatures by a user-signing key are seen only by the signer", async () => {
  const alice = await keyedUser();
  const bob = await keyedUser();
  const carol = await keyedUser();
  const aliceSet = crossSigningSet(alice.userId);
  const bobSet = crossSigningSet(bob.userId);
  await alice.api.post('/keys/device_signing/upload', aliceSet.body);
  await bob.api.post('/keys/device_signing/upload', bobSet.body);

  const signed = signWith(bobSet.body.master_key, alice.userId, aliceSet.userSigning);
  const r = await alice.api.post('/keys/signatures/upload', { [bob.userId]: { [bobSet.master.pub]: signed } });
  assert.deepEqual(r.body.failures, {});
  const sigKey = `ed25519:${aliceSet.userSigning.pub}`;
  const byAlice = await alice.api.post('/keys/query', { device_keys: { [bob.userId]: [] } });
  assert.ok(byAlice.body.master_keys[bob.userId].signatures?.[alice.userId]?.[sigKey], 'the signer sees it');
  for (const viewer of [bob, carol]) {
    const q = await viewer.api.post('/keys/query', { device_keys: { [bob.userId]: [] } });
    assert.equal(q.body.master_keys[bob.userId].signatures?.[alice.userId], undefined, `${viewer.userId} must not see it`);
  }
});

test('invalid signatures are reported per key and stored for none', async () => {
  const alice = await keyedUser();
  const bob = await keyedUser();
  const set = crossSigningSet(alice.userId);
  const bobSet = crossSigningSet(bob.userId);
  await alice.api.post('/keys/device_signing/upload', set.body);
  await bob.api.post('/keys/device_signing/upload', bobSet.body);

  const forged = signWith(alice.device.deviceKeys(), alice.userId, newSigningKey());
  const changed = signWith({ ...alice.device.deviceKeys(), algorithms: ['other'] }, alice.userId, set.selfSigning);
  const bySsk = signWith(bobSet.body.master_key, alice.userId, set.selfSigning);
  const r = await alice.api.post('/keys/signatures/upload', {
    [alice.userId]: { [alice.deviceId]: forged, NOSUCHDEVICE: forged },
    [bob.userId]: { [bobSet.master.pub]: bySsk, [bob.deviceId]: bySsk },
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.failures[alice.userId][alice.deviceId].errcode, 'M_INVALID_SIGNATURE');
  assert.ok(r.body.failures[alice.userId].NOSUCHDEVICE);
  assert.equal(r.body.failures[bob.userId][bobSet.master.pub].errcode, 'M_INVALID_SIGNATURE', 'only the user-signing key may sign others');
  assert.ok(r.body.failures[bob.userId][bob.deviceId], "another user's device cannot be signed directly");

  const r2 = await alice.api.post('/keys/signatures/upload', { [alice.userId]: { [alice.deviceId]: changed } });
  assert.equal(r2.body.failures[alice.userId][alice.deviceId].errcode, 'M_INVALID_SIGNATURE', 'the signed object must match the stored keys');

  const q = await bob.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.deepEqual(Object.keys(q.body.device_keys[alice.userId][alice.deviceId].signatures[alice.userId]), [`ed25519:${alice.deviceId}`]);
});

test("re-uploading different device keys drops the old keys' signatures", async () => {
  const alice = await keyedUser();
  const bob = await keyedUser();
  const set = crossSigningSet(alice.userId);
  await alice.api.post('/keys/device_signing/upload', set.body);
  await alice.api.post('/keys/signatures/upload', { [alice.userId]: { [alice.deviceId]: signWith(alice.device.deviceKeys(), alice.userId, set.selfSigning) } });
  const sskId = `ed25519:${set.selfSigning.pub}`;
  const before = await bob.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.ok(before.body.device_keys[alice.userId][alice.deviceId].signatures[alice.userId][sskId]);

  const fresh = new FakeDevice(alice.userId, alice.deviceId);
  assert.equal((await alice.api.post('/keys/upload', { device_keys: fresh.deviceKeys() })).status, 200);
  const after = await bob.api.post('/keys/query', { device_keys: { [alice.userId]: [] } });
  assert.equal(after.body.device_keys[alice.userId][alice.deviceId].keys[`ed25519:${alice.deviceId}`], fresh.ed25519);
  assert.equal(after.body.device_keys[alice.userId][alice.deviceId].signatures[alice.userId][sskId], undefined);
});
