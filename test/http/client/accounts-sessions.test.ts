/**
 * Refresh tokens and soft logout, password changes, deactivation and device management.
 * Spec: client-server-api "Refreshing access tokens", "Soft logout", "Account management",
 * "Device management", "User-Interactive Authentication API".
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { api, loginUser, registerUser } from '../../helpers/clients.ts';

let ts: TestServer;

before(async () => {
  ts = await startTestServer({ open_registration: true, access_token_lifetime_ms: 60_000 });
});
after(async () => {
  await ts.cleanup();
});

/** Moves the server's clock forward (tokens expire by s.now()). */
function advanceClock(ms: number): () => void {
  const s = ts.server.services;
  const original = s.now;
  s.now = () => original() + ms;
  return () => {
    s.now = original;
  };
}

test('refresh tokens: expiry gives soft logout, /refresh issues a new pair, old refresh token dies on use', async () => {
  const u = await registerUser(ts.baseUrl, 'refresher', 'pw-refresher');
  const login = await loginUser(ts.baseUrl, 'refresher', 'pw-refresher', { refresh_token: true });
  assert.equal(login.status, 200);
  assert.equal(login.body.expires_in_ms, 60_000);
  assert.match(login.body.refresh_token, /^hthr_/);
  const a1 = login.body.access_token as string;
  const r1 = login.body.refresh_token as string;
  assert.equal((await api(ts.baseUrl, a1).get('/account/whoami')).status, 200);

  const restore = advanceClock(61_000);
  try {
    const expired = await api(ts.baseUrl, a1).get('/account/whoami');
    assert.deepEqual([expired.status, expired.body.errcode, expired.body.soft_logout], [401, 'M_UNKNOWN_TOKEN', true]);
    // Tokens without refresh support never expire.
    assert.equal((await api(ts.baseUrl, u.accessToken).get('/account/whoami')).status, 200);
  } finally {
    restore();
  }

  const c = api(ts.baseUrl);
  const ref = await c.post('/refresh', { refresh_token: r1 });
  assert.equal(ref.status, 200);
  assert.equal(ref.body.expires_in_ms, 60_000);
  const { access_token: a2, refresh_token: r2 } = ref.body;
  assert.notEqual(a2, a1);
  assert.notEqual(r2, r1);
  // The replaced access token is gone, hard.
  assert.equal((await api(ts.baseUrl, a1).get('/account/whoami')).body.soft_logout, false);
  const who = await api(ts.baseUrl, a2).get('/account/whoami');
  assert.deepEqual(who.body, { user_id: u.userId, device_id: login.body.device_id, is_guest: false });
  // Using the new access token invalidated the old refresh token.
  const reuse = await c.post('/refresh', { refresh_token: r1 });
  assert.deepEqual([reuse.status, reuse.body.errcode], [401, 'M_UNKNOWN_TOKEN']);
  assert.equal((await c.post('/refresh', { refresh_token: r2 })).status, 200);
  assert.equal((await c.post('/refresh', {})).body.errcode, 'M_MISSING_PARAM');
  assert.equal((await c.post('/refresh', { refresh_token: 5 })).body.errcode, 'M_BAD_JSON');
});

test('password change needs the current password, keeps this device and logs out the others', async () => {
  const u = await registerUser(ts.baseUrl, 'changer', 'old-password');
  const other = await loginUser(ts.baseUrl, 'changer', 'old-password');
  const me = api(ts.baseUrl, u.accessToken);

  const first = await me.post('/account/password', { new_password: 'new-password' });
  assert.equal(first.status, 401);
  assert.deepEqual(first.body.flows, [{ stages: ['m.login.password'] }]);
  const wrong = await me.post('/account/password', {
    new_password: 'new-password',
    auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: 'not-it', session: first.body.session },
  });
  assert.deepEqual([wrong.status, wrong.body.errcode], [401, 'M_FORBIDDEN']);
  assert.equal(wrong.body.session, first.body.session);

  const ok = await me.post('/account/password', {
    new_password: 'new-password',
    auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'changer' }, password: 'old-password', session: first.body.session },
  });
  assert.deepEqual([ok.status, ok.body], [200, {}]);
  assert.equal((await me.get('/account/whoami')).status, 200, 'the requesting device stays logged in');
  assert.equal((await api(ts.baseUrl, other.body.access_token).get('/account/whoami')).status, 401, 'other devices are logged out');
  assert.equal((await loginUser(ts.baseUrl, 'changer', 'old-password')).status, 403);
  const again = await loginUser(ts.baseUrl, 'changer', 'new-password');
  assert.equal(again.status, 200);

  // logout_devices: false keeps the others.
  const s1 = await me.post('/account/password', { new_password: 'third' });
  const kept = await me.post('/account/password', {
    new_password: 'third',
    logout_devices: false,
    auth: { type: 'm.login.password', user: 'changer', password: 'new-password', session: s1.body.session },
  });
  assert.equal(kept.status, 200);
  assert.equal((await api(ts.baseUrl, again.body.access_token).get('/account/whoami')).status, 200);
});

test('deactivation: UIA, tokens and devices gone, cannot log in, hooks run', async () => {
  const u = await registerUser(ts.baseUrl, 'leaver', 'pw-leaver');
  const second = await loginUser(ts.baseUrl, 'leaver', 'pw-leaver');
  const seen: string[] = [];
  ts.server.services.accountHooks.onDeactivate.push(async (userId) => void seen.push(userId));
  const me = api(ts.baseUrl, u.accessToken);
  const first = await me.post('/account/deactivate', {});
  assert.equal(first.status, 401);
  const done = await me.post('/account/deactivate', {
    auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'leaver' }, password: 'pw-leaver', session: first.body.session },
  });
  assert.deepEqual([done.status, done.body], [200, { id_server_unbind_result: 'no-support' }]);
  assert.deepEqual(seen, [u.userId]);
  assert.equal((await me.get('/account/whoami')).status, 401);
  assert.equal((await api(ts.baseUrl, second.body.access_token).get('/account/whoami')).status, 401);
  const login = await loginUser(ts.baseUrl, 'leaver', 'pw-leaver');
  assert.deepEqual([login.status, login.body.errcode], [403, 'M_USER_DEACTIVATED']);
  // The user ID stays taken.
  assert.equal((await api(ts.baseUrl).get('/register/available', { username: 'leaver' })).body.errcode, 'M_USER_IN_USE');
  assert.equal((await ts.server.services.devices.list(u.userId)).length, 0);
});

test('devices: list, get, rename, delete with UIA (wrong password rejected), delete_devices', async () => {
  const u = await registerUser(ts.baseUrl, 'gadgets', 'pw-gadgets', { displayName: 'Laptop' });
  const phone = await loginUser(ts.baseUrl, 'gadgets', 'pw-gadgets', { initial_device_display_name: 'Phone' });
  const tablet = await loginUser(ts.baseUrl, 'gadgets', 'pw-gadgets', { device_id: 'TABLET' });
  const deleted: string[][] = [];
  ts.server.services.deviceHooks.onDeleted.push(async (_tx, userId, ids) => {
    if (userId === u.userId) deleted.push(ids);
  });
  const me = api(ts.baseUrl, u.accessToken);

  const list = await me.get('/devices');
  assert.equal(list.status, 200);
  const byId = new Map(list.body.devices.map((d: { device_id: string }) => [d.device_id, d]));
  assert.deepEqual([...byId.keys()].sort(), [u.deviceId, phone.body.device_id, 'TABLET'].sort());
  assert.equal((byId.get(u.deviceId) as { display_name: string }).display_name, 'Laptop');
  assert.equal(typeof (byId.get(u.deviceId) as { last_seen_ts: number }).last_seen_ts, 'number');

  const one = await me.get(`/devices/${phone.body.device_id}`);
  assert.equal(one.body.display_name, 'Phone');
  assert.equal((await me.get('/devices/NOPE')).body.errcode, 'M_NOT_FOUND');

  assert.equal((await me.put('/devices/TABLET', { display_name: 'Kitchen tablet' })).status, 200);
  assert.equal((await me.get('/devices/TABLET')).body.display_name, 'Kitchen tablet');
  assert.equal((await me.put('/devices/NOPE', { display_name: 'x' })).status, 404);
  assert.equal((await me.put('/devices/TABLET', { display_name: 7 })).body.errcode, 'M_BAD_JSON');

  // Deleting needs the password.
  const d1 = await me.delete('/devices/TABLET', {});
  assert.equal(d1.status, 401);
  assert.deepEqual(d1.body.flows, [{ stages: ['m.login.password'] }]);
  const bad = await me.delete('/devices/TABLET', { auth: { type: 'm.login.password', user: 'gadgets', password: 'wrong', session: d1.body.session } });
  assert.deepEqual([bad.status, bad.body.errcode], [401, 'M_FORBIDDEN']);
  assert.equal((await api(ts.baseUrl, tablet.body.access_token).get('/account/whoami')).status, 200);
  // Another user's password does not help either.
  await registerUser(ts.baseUrl, 'intruder', 'pw-intruder');
  const impostor = await me.delete('/devices/TABLET', {
    auth: { type: 'm.login.password', user: 'intruder', password: 'pw-intruder', session: d1.body.session },
  });
  assert.equal(impostor.status, 401);
  const ok = await me.delete('/devices/TABLET', { auth: { type: 'm.login.password', user: 'gadgets', password: 'pw-gadgets', session: d1.body.session } });
  assert.equal(ok.status, 200);
  assert.equal((await api(ts.baseUrl, tablet.body.access_token).get('/account/whoami')).status, 401);
  assert.deepEqual(deleted, [['TABLET']]);

  // A completed session cannot be replayed for another deletion.
  const replay = await me.post('/delete_devices', { devices: [phone.body.device_id], auth: { session: d1.body.session } });
  assert.equal(replay.status, 400);

  const m1 = await me.post('/delete_devices', { devices: [phone.body.device_id, 'UNKNOWN'] });
  assert.equal(m1.status, 401);
  const m2 = await me.post('/delete_devices', {
    devices: [phone.body.device_id, 'UNKNOWN'],
    auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: u.userId }, password: 'pw-gadgets', session: m1.body.session },
  });
  assert.equal(m2.status, 200);
  assert.equal((await api(ts.baseUrl, phone.body.access_token).get('/account/whoami')).status, 401);
  assert.deepEqual((await me.get('/devices')).body.devices.map((d: { device_id: string }) => d.device_id), [u.deviceId]);
  assert.equal((await me.post('/delete_devices', { devices: 'ABC' })).body.errcode, 'M_BAD_JSON');
  assert.equal((await me.post('/delete_devices', {})).body.errcode, 'M_MISSING_PARAM');
});

test('m.login.token via /login/get_token (UIA) is single use', async () => {
  const u = await registerUser(ts.baseUrl, 'qrcode', 'pw-qrcode');
  const me = api(ts.baseUrl, u.accessToken);
  const first = await me.post('/_matrix/client/v1/login/get_token', {});
  assert.equal(first.status, 401);
  const got = await me.post('/_matrix/client/v1/login/get_token', {
    auth: { type: 'm.login.password', user: 'qrcode', password: 'pw-qrcode', session: first.body.session },
  });
  assert.equal(got.status, 200);
  assert.equal(typeof got.body.login_token, 'string');
  const c = api(ts.baseUrl);
  const login = await c.post('/login', { type: 'm.login.token', token: got.body.login_token });
  assert.equal(login.status, 200);
  assert.equal(login.body.user_id, u.userId);
  const again = await c.post('/login', { type: 'm.login.token', token: got.body.login_token });
  assert.deepEqual([again.status, again.body.errcode], [403, 'M_FORBIDDEN']);
});
