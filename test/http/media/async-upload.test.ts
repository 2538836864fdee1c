/**
 * Async uploads (spec v1.7): POST /_matrix/media/v1/create reserves an mxc, PUT
 * /_matrix/media/v3/upload/{serverName}/{mediaId} fills it once, downloads wait for it.
 * And the legacy unauthenticated endpoints' "freeze" (spec v1.11/v1.12).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, tempDir, type TestServer } from '../../helpers/server.ts';
import { registerUser, loginUser, type TestUser } from '../../helpers/clients.ts';
import { MAX_PENDING_PER_USER } from '../../../server/services/media/media-service.ts';

let t: TestServer;
let alice: TestUser;
let bob: TestUser;

before(async () => {
  t = await startTestServer({ open_registration: true, rate_limits: false });
  alice = await registerUser(t.baseUrl);
  bob = await registerUser(t.baseUrl);
});
after(() => t.cleanup());

const auth = (u: TestUser) => ({ authorization: `Bearer ${u.accessToken}` });

async function create(u: TestUser): Promise<{ status: number; json: any }> {
  const res = await fetch(`${t.baseUrl}/_matrix/media/v1/create`, { method: 'POST', headers: auth(u) });
  return { status: res.status, json: await res.json() };
}

async function put(u: TestUser, uri: string, body: string, type = 'text/plain'): Promise<{ status: number; json: any }> {
  const path = uri.slice('mxc://'.length);
  const res = await fetch(`${t.baseUrl}/_matrix/media/v3/upload/${path}?filename=late.txt`, {
    method: 'PUT',
    headers: { ...auth(u), 'content-type': type },
    body,
  });
  return { status: res.status, json: await res.json() };
}

test('create then PUT: the content appears at the reserved mxc; a second PUT is 409', async () => {
  const before = Date.now();
  const c = await create(alice);
  assert.equal(c.status, 200);
  assert.match(c.json.content_uri, /^mxc:\/\/localhost\/[A-Za-z0-9_-]+$/);
  // Spec: recommended expiry 24 hours.
  assert.ok(c.json.unused_expires_at >= before + 23 * 3600_000 && c.json.unused_expires_at <= Date.now() + 24 * 3600_000);
  const first = await put(alice, c.json.content_uri, 'hello later');
  assert.equal(first.status, 200);
  assert.deepEqual(first.json, {});
  const res = await fetch(`${t.baseUrl}/_matrix/client/v1/media/download/${c.json.content_uri.slice(6)}`, { headers: auth(bob) });
  assert.equal(await res.text(), 'hello later');
  assert.equal(res.headers.get('content-disposition'), 'inline; filename="late.txt"');
  const again = await put(alice, c.json.content_uri, 'overwrite');
  assert.equal(again.status, 409);
  assert.equal(again.json.errcode, 'M_CANNOT_OVERWRITE_MEDIA');
});

test('PUT by another user is 403; to an unknown mxc 404', async () => {
  const c = await create(alice);
  const other = await put(bob, c.json.content_uri, 'mine now');
  assert.equal(other.status, 403);
  assert.equal(other.json.errcode, 'M_FORBIDDEN');
  const unknown = await put(alice, 'mxc://localhost/neverCreated', 'x');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.errcode, 'M_NOT_FOUND');
});

test('download of a pending mxc waits for the upload, or answers 504 M_NOT_YET_UPLOADED after timeout_ms', async () => {
  const c = await create(alice);
  const url = `${t.baseUrl}/_matrix/client/v1/media/download/${c.json.content_uri.slice(6)}`;
  const early = await fetch(`${url}?timeout_ms=100`, { headers: auth(bob) });
  assert.equal(early.status, 504);
  assert.equal(((await early.json()) as any).errcode, 'M_NOT_YET_UPLOADED');
  const waiting = fetch(`${url}?timeout_ms=10000`, { headers: auth(bob) });
  await new Promise((r) => setTimeout(r, 150));
  const started = Date.now();
  assert.equal((await put(alice, c.json.content_uri, 'arrived')).status, 200);
  const res = await waiting;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'arrived');
  assert.ok(Date.now() - started < 5000, 'the waiting download was woken by the upload');
});

test('an mxc not uploaded within 24 hours expires: PUT gets 404 and housekeeping drops it', async () => {
  const c = await create(alice);
  const s = t.server.services;
  const realNow = s.now;
  s.now = () => realNow() + 25 * 3600_000;
  try {
    const late = await put(alice, c.json.content_uri, 'too late');
    assert.equal(late.status, 404);
    assert.equal(late.json.errcode, 'M_NOT_FOUND');
    await s.media.maintain();
  } finally {
    s.now = realNow;
  }
  const [, server, id] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(c.json.content_uri)!;
  assert.equal(await s.media.store.get(server!, id!), undefined);
});

test('too many pending uploads per user: 429 M_LIMIT_EXCEEDED', async () => {
  const dave = await registerUser(t.baseUrl);
  for (let i = 0; i < MAX_PENDING_PER_USER; i++) assert.equal((await create(dave)).status, 200);
  const over = await create(dave);
  assert.equal(over.status, 429);
  assert.equal(over.json.errcode, 'M_LIMIT_EXCEEDED');
});

test('legacy unauthenticated endpoints: frozen by default, and media from before the freeze stays reachable', async () => {
  const dataDir = tempDir();
  let s = await startTestServer({ open_registration: true, rate_limits: false, media_legacy_unauthenticated: true }, { dataDir });
  const u = await registerUser(s.baseUrl, 'legacy', 'legacy-password');
  const up = async (srv: TestServer, token: string, body: string) => {
    const r = await fetch(`${srv.baseUrl}/_matrix/media/r0/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body });
    return ((await r.json()) as any).content_uri.slice(6) as string;
  };
  const old = await up(s, u.accessToken, 'from before');
  let res = await fetch(`${s.baseUrl}/_matrix/media/v3/download/${old}`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'from before');
  await s.stop();

  // Freeze: the switch goes off (the default).
  s = await startTestServer({ open_registration: true, rate_limits: false }, { dataDir });
  try {
    const login = await loginUser(s.baseUrl, 'legacy', 'legacy-password');
    const fresh = await up(s, login.body.access_token, 'from after');
    res = await fetch(`${s.baseUrl}/_matrix/media/v3/download/${old}`);
    assert.equal(res.status, 200, 'media uploaded before the freeze stays reachable');
    assert.equal(await res.text(), 'from before');
    res = await fetch(`${s.baseUrl}/_matrix/media/r0/download/${fresh}`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as any).errcode, 'M_NOT_FOUND');
    res = await fetch(`${s.baseUrl}/_matrix/media/v3/thumbnail/${fresh}?width=32&height=32`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    res = await fetch(`${s.baseUrl}/_matrix/client/v1/media/download/${fresh}`, { headers: { authorization: `Bearer ${login.body.access_token}` } });
    assert.equal(await res.text(), 'from after', 'the authenticated endpoint serves it');
  } finally {
    await s.cleanup();
  }
});
