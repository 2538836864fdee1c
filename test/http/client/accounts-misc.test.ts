/**
 * Capabilities, TURN credentials, content reports, rate limiting and bad input on the
 * accounts endpoints. Spec: client-server-api "Capabilities negotiation", "Voice over IP",
 * report_content, "Rate limiting", "Standard error response".
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { api, loginUser, registerUser, type TestUser } from '../../helpers/clients.ts';

let ts: TestServer;
let u: TestUser;

before(async () => {
  ts = await startTestServer({
    open_registration: true,
    turn_uris: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'],
    turn_shared_secret: 'coturn-secret',
    turn_ttl: 3600,
  });
  u = await registerUser(ts.baseUrl, 'misc', 'pw-misc');
});
after(async () => {
  await ts.cleanup();
});

test('capabilities', async () => {
  const r = await api(ts.baseUrl, u.accessToken).get('/capabilities');
  assert.equal(r.status, 200);
  const c = r.body.capabilities;
  assert.deepEqual(c['m.change_password'], { enabled: true });
  assert.equal(c['m.room_versions'].default, '12');
  assert.deepEqual(Object.keys(c['m.room_versions'].available), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12']);
  assert.ok(Object.values(c['m.room_versions'].available).every((v) => v === 'stable'));
  assert.deepEqual(c['m.3pid_changes'], { enabled: false });
  assert.deepEqual(c['m.set_displayname'], { enabled: true });
  assert.deepEqual(c['m.set_avatar_url'], { enabled: true });
  assert.equal((await api(ts.baseUrl).get('/capabilities')).status, 401);
});

test('TURN credentials are coturn use-auth-secret HMACs that expire after turn_ttl', async () => {
  const before = Math.floor(Date.now() / 1000);
  const r = await api(ts.baseUrl, u.accessToken).get('/voip/turnServer');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.uris, ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349']);
  assert.equal(r.body.ttl, 3600);
  const [expiry, user] = (r.body.username as string).split(/:(.*)/s);
  assert.equal(user, u.userId);
  assert.ok(Number(expiry) >= before + 3600 && Number(expiry) <= before + 3602);
  assert.equal(r.body.password, createHmac('sha1', 'coturn-secret').update(r.body.username).digest('base64'));

  const plain = await startTestServer({ open_registration: true });
  try {
    const v = await registerUser(plain.baseUrl, 'noturn');
    assert.deepEqual((await api(plain.baseUrl, v.accessToken).get('/voip/turnServer')).body, {});
  } finally {
    await plain.cleanup();
  }
});

test('reports are stored; unknown local users are 404', async () => {
  const me = api(ts.baseUrl, u.accessToken);
  // The rooms area checks that the room exists and that the reporter can see the event.
  const room = (await me.post('/createRoom', {})).body.room_id as string;
  const event = (await me.put(`/rooms/${encodeURIComponent(room)}/send/m.room.message/report1`, { msgtype: 'm.text', body: 'x' })).body.event_id as string;
  assert.equal((await me.post('/rooms/!nosuchroom:localhost/report', { reason: 'spam' })).status, 404);
  assert.deepEqual((await me.post(`/rooms/${encodeURIComponent(room)}/report`, { reason: 'spam' })).body, {});
  assert.equal((await me.post(`/rooms/${encodeURIComponent(room)}/report/${encodeURIComponent(event)}`, { reason: 'rude', score: -100 })).status, 200);
  assert.equal((await me.post(`/users/${encodeURIComponent('@misc:localhost')}/report`, { reason: 'x' })).status, 200);
  assert.equal((await me.post(`/users/${encodeURIComponent('@ghost:localhost')}/report`, { reason: 'x' })).status, 404);
  assert.equal((await me.post('/rooms/!room:localhost/report', { reason: 5 })).body.errcode, 'M_BAD_JSON');
  assert.equal((await me.post('/rooms/notaroom/report', {})).body.errcode, 'M_INVALID_PARAM');
  const stored = await ts.server.services.reports.list();
  assert.deepEqual(
    stored.map((r) => [r.room_id, r.event_id, r.target_user, r.reason]),
    [
      [null, null, '@misc:localhost', 'x'],
      [room, event, null, 'rude'],
      [room, null, null, 'spam'],
    ],
  );
  // The rooms area can plug in the membership check.
  ts.server.services.reports.checks.eventReportable = async () => false;
  try {
    assert.equal((await me.post(`/rooms/${encodeURIComponent(room)}/report/${encodeURIComponent(event)}`, { reason: 'r' })).status, 404);
  } finally {
    delete ts.server.services.reports.checks.eventReportable;
  }
});

test('bad input on accounts endpoints is a 4xx Matrix error, never a 500', async () => {
  const me = api(ts.baseUrl, u.accessToken);
  const c = api(ts.baseUrl);
  const cases: Array<[ReturnType<typeof api>, string, string, string | undefined, string]> = [
    [c, 'POST', '/login', '{', 'M_NOT_JSON'],
    [c, 'POST', '/login', '[]', 'M_BAD_JSON'],
    [c, 'POST', '/login', '{}', 'M_MISSING_PARAM'],
    [c, 'POST', '/login', '{"type": 1}', 'M_BAD_JSON'],
    [c, 'POST', '/login', '{"type": "m.login.fancy"}', 'M_UNKNOWN'],
    [c, 'POST', '/login', '{"type": "m.login.password", "user": "misc"}', 'M_MISSING_PARAM'],
    [c, 'POST', '/login', '{"type": "m.login.password", "user": "misc", "password": 1}', 'M_BAD_JSON'],
    [c, 'POST', '/login', '{"type": "m.login.password", "identifier": "misc", "password": "x"}', 'M_INVALID_PARAM'],
    [c, 'POST', '/login', '{"type": "m.login.password", "identifier": {"type": "m.id.user", "user": 7}, "password": "x"}', 'M_INVALID_PARAM'],
    [c, 'POST', '/login', '{"type": "m.login.password", "user": "misc", "password": "pw-misc", "device_id": []}', 'M_BAD_JSON'],
    [c, 'POST', '/login', '{"type": "m.login.password", "user": "misc", "password": "pw-misc", "refresh_token": "yes"}', 'M_BAD_JSON'],
    [c, 'POST', '/login', '{"type": "m.login.token"}', 'M_MISSING_PARAM'],
    [c, 'POST', '/register', '{"username": 5}', 'M_BAD_JSON'],
    [c, 'POST', '/register', '{"username": "ok", "password": {}}', 'M_BAD_JSON'],
    [c, 'POST', '/register', '{"username": "ok", "password": "p", "auth": "dummy"}', 'M_BAD_JSON'],
    [c, 'POST', '/register', '{"username": "ok", "password": "p", "auth": {"type": 1}}', 'M_BAD_JSON'],
    [c, 'POST', '/register', '{"username": "ok", "password": "p", "auth": {"session": "nope", "type": "m.login.dummy"}}', 'M_UNKNOWN'],
    [c, 'POST', '/register?kind=robot', '{}', 'M_INVALID_PARAM'],
    [c, 'GET', '/register/available', undefined, 'M_MISSING_PARAM'],
    [me, 'POST', '/account/password', '{}', 'M_MISSING_PARAM'],
    [me, 'POST', '/account/password', '{"new_password": 1}', 'M_BAD_JSON'],
    [me, 'POST', '/account/password', '{"new_password": "x", "logout_devices": "no"}', 'M_BAD_JSON'],
    [me, 'POST', '/account/password', '{"new_password": "x", "auth": {"type": "m.login.password", "user": "misc"}}', 'M_INVALID_PARAM'],
    [me, 'POST', '/account/deactivate', '{"erase": "yes"}', 'M_BAD_JSON'],
    [me, 'POST', '/account/3pid/email/requestToken', '{}', 'M_THREEPID_DENIED'],
  ];
  for (const [client, method, path, body, errcode] of cases) {
    const r = await client.raw(method, path, body);
    assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} ${body} → ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.errcode, errcode, `${method} ${path} ${body} → ${JSON.stringify(r.body)}`);
  }
  // Nothing above changed the account.
  assert.equal((await loginUser(ts.baseUrl, 'misc', 'pw-misc')).status, 200);
  const big = await c.raw('POST', '/login', JSON.stringify({ type: 'm.login.password', user: 'misc', password: 'x'.repeat(2 * 1024 * 1024) }));
  assert.deepEqual([big.status, big.body.errcode], [413, 'M_TOO_LARGE']);
});

test('rate limits: failed logins per account, logins per IP, requests per user; off with rate_limits=false', async () => {
  const rl = await startTestServer({ open_registration: true });
  try {
    const v = await registerUser(rl.baseUrl, 'target', 'pw-target');
    // Failed password attempts per account (burst 5).
    let limited: { status: number; body: { errcode: string; retry_after_ms: number } } | undefined;
    for (let i = 0; i < 8 && !limited; i++) {
      const r = await loginUser(rl.baseUrl, 'target', 'wrong');
      if (r.status === 429) limited = r;
      else assert.equal(r.status, 403);
    }
    assert.ok(limited, 'failed logins are limited');
    assert.equal(limited.body.errcode, 'M_LIMIT_EXCEEDED');
    assert.ok(limited.body.retry_after_ms > 0);
    // Even the right password waits now (no guessing while limited).
    assert.equal((await loginUser(rl.baseUrl, 'target', 'pw-target')).status, 429);

    // General per-user bucket on every authenticated request (tightened here so the test is quick).
    rl.server.services.rateLimiter.define('request', { burst: 3, perSecond: 0.01 });
    const statuses: number[] = [];
    let last: { status: number; body: { errcode?: string; retry_after_ms?: number } } | undefined;
    for (let i = 0; i < 4; i++) {
      last = await api(rl.baseUrl, v.accessToken).get('/account/whoami');
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal(last!.body.errcode, 'M_LIMIT_EXCEEDED');
    assert.ok(last!.body.retry_after_ms! > 1000);

    // Per-IP login bucket (burst 30) for any account.
    let ipLimited = false;
    for (let i = 0; i < 40 && !ipLimited; i++) {
      const l = await loginUser(rl.baseUrl, `nobody${i}`, 'x');
      ipLimited = l.status === 429;
    }
    assert.ok(ipLimited, 'logins per IP are limited');
  } finally {
    await rl.cleanup();
  }

  const off = await startTestServer({ open_registration: true, rate_limits: false });
  try {
    await registerUser(off.baseUrl, 'free', 'pw-free');
    for (let i = 0; i < 12; i++) assert.equal((await loginUser(off.baseUrl, 'free', 'wrong')).status, 403);
    assert.equal((await loginUser(off.baseUrl, 'free', 'pw-free')).status, 200);
  } finally {
    await off.cleanup();
  }
});

test('admin whois: self or server admin only', async () => {
  const { hashPassword } = await import('../../../server/services/passwords.ts');
  await ts.server.services.users.create({ userId: '@boss:localhost', localpart: 'boss', passwordHash: await hashPassword('pw-boss'), admin: true, now: Date.now() });
  const boss = (await loginUser(ts.baseUrl, 'boss', 'pw-boss')).body;
  const other = await registerUser(ts.baseUrl, 'nosy', 'pw-nosy');
  const path = `/admin/whois/${encodeURIComponent(u.userId)}`;

  const self = await api(ts.baseUrl, u.accessToken).raw('GET', path, undefined, { 'user-agent': 'whois-test/1.0' });
  assert.equal(self.status, 200);
  assert.equal(self.body.user_id, u.userId);
  const conn = self.body.devices[u.deviceId].sessions[0].connections[0];
  assert.equal(typeof conn.last_seen, 'number');

  assert.equal((await api(ts.baseUrl, boss.access_token).get(path)).status, 200);
  const denied = await api(ts.baseUrl, other.accessToken).get(path);
  assert.deepEqual([denied.status, denied.body.errcode], [403, 'M_FORBIDDEN']);
  assert.equal((await api(ts.baseUrl, boss.access_token).get(`/admin/whois/${encodeURIComponent('@ghost:localhost')}`)).status, 404);
});
