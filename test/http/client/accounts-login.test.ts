/**
 * Registration, login, logout and whoami over real HTTP.
 * Spec: client-server-api "Account registration", "Login", "Logout", "Using access tokens".
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { api, loginUser, registerUser } from '../../helpers/clients.ts';

let open: TestServer;
let closed: TestServer;

before(async () => {
  [open, closed] = await Promise.all([startTestServer({ open_registration: true }), startTestServer()]);
});
after(async () => {
  await Promise.all([open.cleanup(), closed.cleanup()]);
});

test('registration is closed by default: the only flow needs a registration token', async () => {
  const c = api(closed.baseUrl);
  const r = await c.post('/register', { username: 'alice', password: 'secret-pw' });
  assert.equal(r.status, 401);
  assert.deepEqual(r.body.flows, [{ stages: ['m.login.registration_token'] }]);
  assert.deepEqual(r.body.params, {});
  assert.equal(typeof r.body.session, 'string');
  assert.equal(r.body.errcode, undefined, 'first UIA response carries no error');

  // m.login.dummy is not offered, so it cannot be used to skip the token.
  const dummy = await c.post('/register', { username: 'alice', password: 'secret-pw', auth: { type: 'm.login.dummy', session: r.body.session } });
  assert.equal(dummy.status, 401);
  assert.equal(dummy.body.errcode, 'M_UNRECOGNIZED');

  const wrong = await c.post('/register', {
    username: 'alice',
    password: 'secret-pw',
    auth: { type: 'm.login.registration_token', token: 'nope', session: r.body.session },
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.errcode, 'M_FORBIDDEN');
  assert.equal(wrong.body.session, r.body.session);

  const valid = await c.get('/_matrix/client/v1/register/m.login.registration_token/validity', { token: 'nope' });
  assert.deepEqual([valid.status, valid.body], [200, { valid: false }]);
});

test('registering with an admin-made token, limited uses', async () => {
  const created = await closed.server.services.registration.createRegistrationToken({ usesAllowed: 1 });
  const c = api(closed.baseUrl);
  const valid = await c.get('/_matrix/client/v1/register/m.login.registration_token/validity', { token: created.token });
  assert.deepEqual(valid.body, { valid: true });

  const u = await registerUser(closed.baseUrl, 'tokenuser', 'pw-token-user', { registrationToken: created.token });
  assert.equal(u.userId, '@tokenuser:localhost');
  const who = await api(closed.baseUrl, u.accessToken).get('/account/whoami');
  assert.deepEqual(who.body, { user_id: '@tokenuser:localhost', device_id: u.deviceId, is_guest: false });

  // The single use is spent.
  const again = await c.get('/_matrix/client/v1/register/m.login.registration_token/validity', { token: created.token });
  assert.deepEqual(again.body, { valid: false });
  await assert.rejects(registerUser(closed.baseUrl, 'second', 'pw', { registrationToken: created.token }), /M_FORBIDDEN/);
  const [info] = await closed.server.services.registration.listRegistrationTokens();
  assert.equal(info!.completed, 1);
  assert.equal(info!.pending, 0);
});

test('open registration with m.login.dummy; username checks', async () => {
  const u = await registerUser(open.baseUrl, 'bob');
  assert.equal(u.userId, '@bob:localhost');
  assert.match(u.deviceId, /^[A-Z]{10}$/);
  const c = api(open.baseUrl);
  const taken = await c.post('/register', { username: 'bob', password: 'x' });
  assert.deepEqual([taken.status, taken.body.errcode], [400, 'M_USER_IN_USE']);
  const bad = await c.post('/register', { username: 'Bad Name!', password: 'x' });
  assert.deepEqual([bad.status, bad.body.errcode], [400, 'M_INVALID_USERNAME']);
  assert.deepEqual((await c.get('/register/available', { username: 'bob' })).body.errcode, 'M_USER_IN_USE');
  assert.deepEqual((await c.get('/register/available', { username: 'carol' })).body, { available: true });
  const guest = await c.raw('POST', '/register?kind=guest', '{}');
  assert.equal(guest.status, 403);

  // Username and password sent only on the first request of the flow are remembered.
  const first = await c.post('/register', { username: 'dave', password: 'pw-dave-1' });
  const done = await c.post('/register', { auth: { type: 'm.login.dummy', session: first.body.session } });
  assert.equal(done.status, 200);
  assert.equal(done.body.user_id, '@dave:localhost');
  assert.equal((await loginUser(open.baseUrl, 'dave', 'pw-dave-1')).status, 200);

  // inhibit_login: an account but no session.
  const s2 = await c.post('/register', { username: 'erin', password: 'pw', inhibit_login: true });
  const r2 = await c.post('/register', { auth: { type: 'm.login.dummy', session: s2.body.session } });
  assert.deepEqual(r2.body, { user_id: '@erin:localhost', home_server: 'localhost' });
});

test('login with password (identifier and legacy user), whoami, logout', async () => {
  const u = await registerUser(open.baseUrl, 'frank', 'pw-frank');
  const c = api(open.baseUrl);
  assert.deepEqual((await c.get('/login')).body.flows.map((f: { type: string }) => f.type), ['m.login.password', 'm.login.token']);

  const login = await loginUser(open.baseUrl, '@frank:localhost', 'pw-frank', { initial_device_display_name: 'Phone' });
  assert.equal(login.status, 200);
  assert.equal(login.body.user_id, u.userId);
  assert.notEqual(login.body.device_id, u.deviceId);
  assert.equal(login.body.refresh_token, undefined);
  assert.equal(login.body.expires_in_ms, undefined);

  const legacy = await c.post('/login', { type: 'm.login.password', user: 'FRANK', password: 'pw-frank', device_id: 'MYDEVICE' });
  assert.equal(legacy.status, 200);
  assert.equal(legacy.body.device_id, 'MYDEVICE');

  const wrong = await loginUser(open.baseUrl, 'frank', 'nope');
  assert.deepEqual([wrong.status, wrong.body.errcode], [403, 'M_FORBIDDEN']);
  const nobody = await loginUser(open.baseUrl, 'nobody', 'nope');
  assert.deepEqual([nobody.status, nobody.body.errcode], [403, 'M_FORBIDDEN']);

  // Deprecated ?access_token= works too.
  const viaQuery = await c.get('/account/whoami', { access_token: login.body.access_token });
  assert.equal(viaQuery.body.device_id, login.body.device_id);

  // Logging in again with the same device ID replaces that device's token.
  const again = await c.post('/login', { type: 'm.login.password', user: 'frank', password: 'pw-frank', device_id: 'MYDEVICE' });
  assert.equal((await api(open.baseUrl, legacy.body.access_token).get('/account/whoami')).body.errcode, 'M_UNKNOWN_TOKEN');
  assert.equal((await api(open.baseUrl, again.body.access_token).get('/account/whoami')).status, 200);

  const me = api(open.baseUrl, login.body.access_token);
  assert.equal((await me.post('/logout')).status, 200);
  const gone = await me.get('/account/whoami');
  assert.deepEqual([gone.status, gone.body.errcode, gone.body.soft_logout], [401, 'M_UNKNOWN_TOKEN', false]);
  // The device went with the token.
  const devices = await api(open.baseUrl, u.accessToken).get('/devices');
  if (devices.status === 200) assert.ok(!devices.body.devices.some((d: { device_id: string }) => d.device_id === login.body.device_id));

  // logout/all ends every session.
  assert.equal((await api(open.baseUrl, u.accessToken).post('/logout/all')).status, 200);
  assert.equal((await api(open.baseUrl, u.accessToken).get('/account/whoami')).status, 401);
  assert.equal((await api(open.baseUrl, again.body.access_token).get('/account/whoami')).status, 401);
});

test('missing and unknown tokens', async () => {
  const none = await api(open.baseUrl).get('/account/whoami');
  assert.deepEqual([none.status, none.body.errcode], [401, 'M_MISSING_TOKEN']);
  const bad = await api(open.baseUrl, 'hth_not-a-token').get('/account/whoami');
  assert.deepEqual([bad.status, bad.body.errcode, bad.body.soft_logout], [401, 'M_UNKNOWN_TOKEN', false]);
  const other = await api(open.baseUrl).raw('GET', '/account/whoami', undefined, { authorization: 'X-Matrix origin=x' });
  assert.equal(other.body.errcode, 'M_MISSING_TOKEN');
});
