/**
 * Access tokens are validated from in-memory caches (token → hash memo, hash → owner). A token
 * that stops being valid must be refused on the very next request, even right after it was
 * used. Spec: client-server-api "Using access tokens", "Logout", "Soft logout".
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

async function whoami(token: string): Promise<[number, string | undefined, boolean | undefined]> {
  const r = await api(ts.baseUrl, token).get('/account/whoami');
  return [r.status, r.body.errcode, r.body.soft_logout];
}

test('a logged-out token is refused on the next request; the same user\'s other device keeps working', async () => {
  const u = await registerUser(ts.baseUrl, 'cachelogout', 'pw-cachelogout');
  const other = (await loginUser(ts.baseUrl, 'cachelogout', 'pw-cachelogout')).body.access_token as string;
  // Used twice so that both caches hold it.
  assert.equal((await whoami(u.accessToken))[0], 200);
  assert.equal((await whoami(u.accessToken))[0], 200);
  assert.equal((await api(ts.baseUrl, u.accessToken).post('/logout', {})).status, 200);
  assert.deepEqual(await whoami(u.accessToken), [401, 'M_UNKNOWN_TOKEN', false]);
  assert.equal((await whoami(other))[0], 200);
  assert.equal((await api(ts.baseUrl, other).post('/logout/all', {})).status, 200);
  assert.deepEqual(await whoami(other), [401, 'M_UNKNOWN_TOKEN', false]);
});

test('an expired refreshable token gets soft_logout even though it was just used', async () => {
  await registerUser(ts.baseUrl, 'cachesoft', 'pw-cachesoft');
  const login = await loginUser(ts.baseUrl, 'cachesoft', 'pw-cachesoft', { refresh_token: true });
  const token = login.body.access_token as string;
  assert.equal((await whoami(token))[0], 200);
  const s = ts.server.services;
  const original = s.now;
  s.now = () => original() + 61_000;
  try {
    assert.deepEqual(await whoami(token), [401, 'M_UNKNOWN_TOKEN', true]);
  } finally {
    s.now = original;
  }
});

test('an unknown token is refused however often it is tried', async () => {
  for (let i = 0; i < 3; i++) assert.deepEqual(await whoami('hth_not-a-real-token'), [401, 'M_UNKNOWN_TOKEN', false]);
});
