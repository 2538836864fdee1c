/**
 * Server-side key backup over real HTTP (key_backup.yaml; end_to_end_encryption.md
 * "Server-side key backups"): versions, etag/count, and which key survives a conflict.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../helpers/server.ts';
import { api, registerUser, type Api } from '../../../helpers/clients.ts';
import { crossSigningSet } from './e2ee-helpers.ts';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ open_registration: true });
});
after(async () => {
  await srv.cleanup();
});

const ALGO = 'm.megolm_backup.v1.curve25519-aes-sha2';
const ROOM = '!room:localhost';

async function newUser(): Promise<Api> {
  return api(srv.baseUrl, (await registerUser(srv.baseUrl)).accessToken);
}

function key(first_message_index: number, forwarded_count: number, is_verified: boolean, tag: string) {
  return { first_message_index, forwarded_count, is_verified, session_data: { ephemeral: 'e', ciphertext: tag, mac: 'm' } };
}

test('versions: create, read latest and by number, update auth_data, delete (twice)', async () => {
  const c = await newUser();
  const none = await c.get('/room_keys/version');
  assert.equal(none.status, 404);
  assert.equal(none.body.errcode, 'M_NOT_FOUND');

  const v1 = await c.post('/room_keys/version', { algorithm: ALGO, auth_data: { public_key: 'pk1' } });
  assert.equal(v1.status, 200);
  assert.equal(typeof v1.body.version, 'string');
  const latest = await c.get('/room_keys/version');
  assert.deepEqual(latest.body, { algorithm: ALGO, auth_data: { public_key: 'pk1' }, count: 0, etag: latest.body.etag, version: v1.body.version });
  assert.equal(typeof latest.body.etag, 'string');

  const v2 = await c.post('/room_keys/version', { algorithm: ALGO, auth_data: { public_key: 'pk2' } });
  assert.notEqual(v2.body.version, v1.body.version);
  assert.equal((await c.get('/room_keys/version')).body.version, v2.body.version, 'the newest version is current');
  assert.equal((await c.get(`/room_keys/version/${v1.body.version}`)).body.auth_data.public_key, 'pk1', 'older versions stay readable');

  const upd = await c.put(`/room_keys/version/${v2.body.version}`, { algorithm: ALGO, auth_data: { public_key: 'pk2', signatures: {} } });
  assert.equal(upd.status, 200);
  assert.deepEqual((await c.get('/room_keys/version')).body.auth_data, { public_key: 'pk2', signatures: {} });
  const badAlgo = await c.put(`/room_keys/version/${v2.body.version}`, { algorithm: 'other', auth_data: {} });
  assert.equal(badAlgo.status, 400);
  assert.equal(badAlgo.body.errcode, 'M_INVALID_PARAM');
  const badVersion = await c.put(`/room_keys/version/${v2.body.version}`, { algorithm: ALGO, auth_data: {}, version: v1.body.version });
  assert.equal(badVersion.body.errcode, 'M_INVALID_PARAM');
  assert.equal((await c.put('/room_keys/version/999', { algorithm: ALGO, auth_data: {} })).status, 404);

  assert.equal((await c.delete(`/room_keys/version/${v2.body.version}`)).status, 200);
  assert.equal((await c.delete(`/room_keys/version/${v2.body.version}`)).status, 200, 'deleting again succeeds');
  assert.equal((await c.get(`/room_keys/version/${v2.body.version}`)).status, 404);
  assert.equal((await c.get('/room_keys/version')).body.version, v1.body.version, 'the previous version is current again');
  assert.equal((await c.delete('/room_keys/version/12345')).status, 404, 'a version that never existed');
  assert.equal((await c.get('/room_keys/version/abc')).status, 404);

  const v3 = await c.post('/room_keys/version', { algorithm: ALGO, auth_data: {} });
  assert.ok(Number(v3.body.version) > Number(v2.body.version), 'a deleted version number is never reused');
  assert.equal((await c.post('/room_keys/version', { auth_data: {} })).body.errcode, 'M_MISSING_PARAM');
  assert.equal((await c.post('/room_keys/version', { algorithm: ALGO, auth_data: 'x' })).status, 400);
});

test('backups are per user', async () => {
  const a = await newUser();
  const b = await newUser();
  const v = await a.post('/room_keys/version', { algorithm: ALGO, auth_data: {} });
  await a.put(`/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=${v.body.version}`, key(0, 0, true, 'x'));
  assert.equal((await b.get('/room_keys/version')).status, 404);
  assert.equal((await b.get(`/room_keys/keys?version=${v.body.version}`)).status, 404);
});

test('keys: put/get/delete per session, room and backup with etag and count', async () => {
  const c = await newUser();
  const { version } = (await c.post('/room_keys/version', { algorithm: ALGO, auth_data: {} })).body;
  const room = encodeURIComponent(ROOM);
  const etag0 = (await c.get('/room_keys/version')).body.etag;

  const one = await c.put(`/room_keys/keys/${room}/s1?version=${version}`, key(0, 0, false, 'a'));
  assert.equal(one.status, 200);
  assert.equal(one.body.count, 1);
  assert.notEqual(one.body.etag, etag0, 'storing a key changes the etag');

  const many = await c.put(`/room_keys/keys?version=${version}`, {
    rooms: { [ROOM]: { sessions: { s2: key(0, 0, false, 'b') } }, '!other:localhost': { sessions: { s3: key(1, 0, false, 'c') } } },
  });
  assert.equal(many.body.count, 3);
  const perRoom = await c.put(`/room_keys/keys/${room}?version=${version}`, { sessions: { s4: key(0, 0, false, 'd') } });
  assert.equal(perRoom.body.count, 4);

  assert.deepEqual((await c.get(`/room_keys/keys/${room}/s1?version=${version}`)).body, key(0, 0, false, 'a'));
  assert.deepEqual(Object.keys((await c.get(`/room_keys/keys/${room}?version=${version}`)).body.sessions).sort(), ['s1', 's2', 's4']);
  const all = (await c.get(`/room_keys/keys?version=${version}`)).body;
  assert.deepEqual(Object.keys(all.rooms).sort(), ['!other:localhost', ROOM]);
  assert.deepEqual((await c.get(`/room_keys/keys/${encodeURIComponent('!empty:localhost')}?version=${version}`)).body, { sessions: {} });
  const missing = await c.get(`/room_keys/keys/${room}/nope?version=${version}`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.errcode, 'M_NOT_FOUND');

  // Same key again: nothing changes, the etag stays.
  const same = await c.put(`/room_keys/keys/${room}/s1?version=${version}`, key(0, 0, false, 'a'));
  assert.equal(same.body.etag, perRoom.body.etag);

  const delOne = await c.delete(`/room_keys/keys/${room}/s1?version=${version}`);
  assert.equal(delOne.body.count, 3);
  assert.notEqual(delOne.body.etag, perRoom.body.etag);
  const delRoom = await c.delete(`/room_keys/keys/${room}?version=${version}`);
  assert.equal(delRoom.body.count, 1);
  const info = (await c.get(`/room_keys/version/${version}`)).body;
  assert.equal(info.count, 1);
  assert.equal(info.etag, delRoom.body.etag, 'GET version reports the same etag the last write returned');
  const delAll = await c.delete(`/room_keys/keys?version=${version}`);
  assert.equal(delAll.body.count, 0);
  assert.deepEqual((await c.get(`/room_keys/keys?version=${version}`)).body, { rooms: {} });
});

test('only the current version takes keys; unknown versions are 404', async () => {
  const c = await newUser();
  const room = encodeURIComponent(ROOM);
  assert.equal((await c.put(`/room_keys/keys/${room}/s?version=1`, key(0, 0, false, 'x'))).status, 404, 'no backup at all');
  const old = (await c.post('/room_keys/version', { algorithm: ALGO, auth_data: {} })).body.version;
  const current = (await c.post('/room_keys/version', { algorithm: ALGO, auth_data: {} })).body.version;
  const wrong = await c.put(`/room_keys/keys/${room}/s?version=${old}`, key(0, 0, false, 'x'));
  assert.equal(wrong.status, 403);
  assert.equal(wrong.body.errcode, 'M_WRONG_ROOM_KEYS_VERSION');
  assert.equal(wrong.body.current_version, current);
  assert.equal((await c.put(`/room_keys/keys/${room}/s?version=9999`, key(0, 0, false, 'x'))).status, 404);
  const noVersion = await c.put(`/room_keys/keys/${room}/s`, key(0, 0, false, 'x'));
  assert.equal(noVersion.status, 400);
  assert.equal(noVersion.body.errcode, 'M_MISSING_PARAM');
  assert.equal((await c.get('/room_keys/keys?version=9999')).status, 404);
  assert.equal((await c.delete('/room_keys/keys?version=9999')).status, 404);
  const bad = await c.put(`/room_keys/keys/${room}/s?version=${current}`, { first_message_index: -1, forwarded_count: 0, is_verified: false, session_data: {} });
  assert.equal(bad.status, 400);
  assert.equal((await c.put(`/room_keys/keys/${room}/s?version=${current}`, { ...key(0, 0, false, 'x'), is_verified: 'yes' })).status, 400);
});

// The spec's order: is_verified, then lower first_message_index, then lower forwarded_count.
const CASES: Array<[string, ReturnType<typeof key>, ReturnType<typeof key>, 'old' | 'new']> = [
  ['verified beats unverified even with a worse index', key(0, 0, false, 'old'), key(5, 3, true, 'new'), 'new'],
  ['unverified never replaces verified', key(5, 3, true, 'old'), key(0, 0, false, 'new'), 'old'],
  ['lower first_message_index wins when verification is equal', key(5, 0, true, 'old'), key(2, 9, true, 'new'), 'new'],
  ['higher first_message_index loses', key(2, 0, false, 'old'), key(5, 0, false, 'new'), 'old'],
  ['then lower forwarded_count wins', key(3, 2, false, 'old'), key(3, 1, false, 'new'), 'new'],
  ['higher forwarded_count loses', key(3, 1, false, 'old'), key(3, 2, false, 'new'), 'old'],
  ['all equal keeps the stored key', key(3, 1, true, 'old'), key(3, 1, true, 'new'), 'old'],
];

test('better key replaces worse, exactly in the spec order', async () => {
  const c = await newUser();
  const { version } = (await c.post('/room_keys/version', { algorithm: ALGO, auth_data: {} })).body;
  const room = encodeURIComponent(ROOM);
  for (const [i, [name, stored, incoming, winner]] of CASES.entries()) {
    await c.put(`/room_keys/keys/${room}/case${i}?version=${version}`, stored);
    const before = (await c.get('/room_keys/version')).body.etag;
    const r = await c.put(`/room_keys/keys?version=${version}`, { rooms: { [ROOM]: { sessions: { [`case${i}`]: incoming } } } });
    const got = (await c.get(`/room_keys/keys/${room}/case${i}?version=${version}`)).body;
    assert.equal(got.session_data.ciphertext, winner, name);
    assert.deepEqual(got, winner === 'new' ? incoming : stored, name);
    assert.equal(r.body.etag === before, winner === 'old', `${name}: the etag moves only when a key changed`);
  }
});

test('deactivating the account deletes its backup and cross-signing keys', async () => {
  const u = await registerUser(srv.baseUrl);
  const c = api(srv.baseUrl, u.accessToken);
  const other = await newUser();
  const { version } = (await c.post('/room_keys/version', { algorithm: ALGO, auth_data: {} })).body;
  await c.put(`/room_keys/keys/${encodeURIComponent(ROOM)}/s1?version=${version}`, key(0, 0, true, 'x'));
  const set = crossSigningSet(u.userId);
  assert.equal((await c.post('/keys/device_signing/upload', set.body)).status, 200);
  const auth = { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: u.password };
  const first = await c.post('/account/deactivate', {});
  const done = await c.post('/account/deactivate', { auth: { ...auth, session: first.body.session } });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const q = await other.post('/keys/query', { device_keys: { [u.userId]: [] } });
  assert.equal(q.body.master_keys[u.userId], undefined);
  assert.deepEqual(q.body.device_keys[u.userId], {});
  const rows = await srv.server.services.db.all('SELECT count(*) AS n FROM e2e_backup_keys WHERE user_id = ?', [u.userId]);
  assert.equal((rows[0] as { n: number }).n, 0, 'no backed-up room key is left on the server');
});
