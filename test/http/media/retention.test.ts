/**
 * Retention and the remote-media boundary: admin deletion over HTTP and with `hearth media`,
 * shared blobs kept while referenced, cached remote media (through MediaService.remoteFetcher,
 * the hook federation fills in) purged by age.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { registerUser, loginUser, type TestUser } from '../../helpers/clients.ts';
import { hearth } from '../../helpers/cli.ts';

let t: TestServer;
let admin: TestUser;
let bob: TestUser;

before(async () => {
  t = await startTestServer({ open_registration: true, rate_limits: false });
  const a = await registerUser(t.baseUrl, 'mediaadmin', 'admin-password');
  await t.server.services.db.write(async (tx) => {
    await tx.run('UPDATE users SET is_admin = 1 WHERE user_id = ?', [a.userId]);
  });
  const login = await loginUser(t.baseUrl, 'mediaadmin', 'admin-password');
  admin = { ...a, accessToken: login.body.access_token };
  bob = await registerUser(t.baseUrl);
});
after(() => t.cleanup());

const auth = (u: TestUser) => ({ authorization: `Bearer ${u.accessToken}` });

async function upload(u: TestUser, bytes: Buffer): Promise<string> {
  const res = await fetch(`${t.baseUrl}/_matrix/media/v3/upload`, { method: 'POST', headers: { ...auth(u), 'content-type': 'application/octet-stream' }, body: new Uint8Array(bytes) });
  return ((await res.json()) as { content_uri: string }).content_uri.slice('mxc://'.length);
}

const download = (path: string) => fetch(`${t.baseUrl}/_matrix/client/v1/media/download/${path}`, { headers: auth(bob) });
const blobPath = (bytes: Buffer) => t.server.services.media.files.blobPath(createHash('sha256').update(bytes).digest('hex'));

test('admin delete over HTTP: only admins; shared bytes stay until the last reference goes', async () => {
  const bytes = randomBytes(2048);
  const first = await upload(bob, bytes);
  const second = await upload(bob, bytes);
  let res = await fetch(`${t.baseUrl}/_hearth/admin/v1/media/${first}`, { method: 'DELETE', headers: auth(bob) });
  assert.equal(res.status, 403);
  await res.arrayBuffer();
  res = await fetch(`${t.baseUrl}/_hearth/admin/v1/media/${first}`, { method: 'DELETE', headers: auth(admin) });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { deleted: 1 });
  assert.equal((await download(first)).status, 404);
  const still = await download(second);
  assert.ok(Buffer.from(await still.arrayBuffer()).equals(bytes));
  assert.ok(existsSync(blobPath(bytes)));
  res = await fetch(`${t.baseUrl}/_hearth/admin/v1/media/${second}`, { method: 'DELETE', headers: auth(admin) });
  assert.equal(res.status, 200);
  assert.equal(existsSync(blobPath(bytes)), false, 'the file goes with its last reference');
  res = await fetch(`${t.baseUrl}/_hearth/admin/v1/media/${second}`, { method: 'DELETE', headers: auth(admin) });
  assert.equal(res.status, 404);
});

test('remote media: fetched once through the federation hook, cached, purged by age', async () => {
  const s = t.server.services;
  const bytes = randomBytes(5000);
  const calls: string[] = [];
  s.media.remoteFetcher = async (server, id) => {
    calls.push(`${server}/${id}`);
    return { body: Readable.from([bytes]), contentType: 'application/pdf', filename: 'remote.pdf' };
  };
  try {
    let res = await download('remote.example/abc123');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="remote.pdf"');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
    res = await download('remote.example/abc123');
    await res.arrayBuffer();
    assert.deepEqual(calls, ['remote.example/abc123'], 'second download served from the cache');

    // Nothing is old enough yet.
    let purge = await fetch(`${t.baseUrl}/_hearth/admin/v1/media/purge_remote`, { method: 'POST', headers: auth(admin), body: JSON.stringify({ older_than_days: 30 }) });
    assert.deepEqual(await purge.json(), { deleted: 0 });
    const realNow = s.now;
    s.now = () => realNow() + 31 * 86_400_000;
    try {
      purge = await fetch(`${t.baseUrl}/_hearth/admin/v1/media/purge_remote`, { method: 'POST', headers: auth(admin), body: JSON.stringify({ older_than_days: 30 }) });
      assert.deepEqual(await purge.json(), { deleted: 1 });
    } finally {
      s.now = realNow;
    }
    assert.equal(existsSync(blobPath(bytes)), false);
    res = await download('remote.example/abc123');
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.equal(calls.length, 2, 'fetched again after the purge');
    // allow_remote=false (legacy endpoints) never fetches.
    res = await fetch(`${t.baseUrl}/_matrix/media/v3/download/remote.example/other1?allow_remote=false`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    assert.equal(calls.length, 2);
  } finally {
    s.media.remoteFetcher = null;
  }
});

test('hearth media delete / purge-remote / stats work on the data directory while the server runs', async () => {
  const bytes = randomBytes(3000);
  const path = await upload(bob, bytes);
  let r = hearth(['media', 'stats', '--data-dir', t.dataDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /local: \d+ items/);
  r = hearth(['media', 'delete', `mxc://${path}`, '--data-dir', t.dataDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`deleted mxc://${path}`));
  assert.equal((await download(path)).status, 404);
  assert.equal(existsSync(blobPath(bytes)), false);
  r = hearth(['media', 'delete', `mxc://${path}`, '--data-dir', t.dataDir]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not found/);
  r = hearth(['media', 'purge-remote', '--older-than', '0', '--data-dir', t.dataDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /deleted 1 cached remote media item older than 0 days/);
  r = hearth(['media', 'purge-remote', '--data-dir', t.dataDir]);
  assert.equal(r.status, 2, 'usage error without --older-than');
  assert.match(r.stderr, /--older-than DAYS is required/);
});
