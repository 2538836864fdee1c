/**
 * Uploads and downloads over real HTTP: byte-identical round trips (1 KB and a streamed
 * 20 MB), Range requests, authentication, size limit, quota, serving headers. This file never
 * imports sharp, so it also checks that the server does not load sharp unless thumbnailing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { registerUser, type TestUser } from '../../helpers/clients.ts';
import { sharpLoaded } from '../../../server/services/media/thumbnailer.ts';

let t: TestServer;
let alice: TestUser;
let bob: TestUser;

before(async () => {
  t = await startTestServer({ open_registration: true, rate_limits: false, max_upload_size: 25 * 1024 * 1024, media_user_quota: 40 * 1024 * 1024 });
  alice = await registerUser(t.baseUrl);
  bob = await registerUser(t.baseUrl);
});
after(() => t.cleanup());

const auth = (u: TestUser) => ({ authorization: `Bearer ${u.accessToken}` });

async function upload(u: TestUser, body: Buffer | string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}, query = ''): Promise<{ status: number; json: any }> {
  const res = await fetch(`${t.baseUrl}/_matrix/media/v3/upload${query}`, {
    method: 'POST',
    headers: { ...auth(u), ...headers },
    body: Buffer.isBuffer(body) ? new Uint8Array(body) : body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, json: await res.json() };
}

function mxcPath(uri: string): string {
  const m = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(uri);
  assert.ok(m, `not an mxc URI: ${uri}`);
  return `${m[1]}/${m[2]}`;
}

const download = (path: string, u: TestUser | null, headers: Record<string, string> = {}) =>
  fetch(`${t.baseUrl}/_matrix/client/v1/media/download/${path}`, { headers: { ...(u ? auth(u) : {}), ...headers } });

test('1 KB upload downloads byte-identical, with its type and filename', async () => {
  const bytes = randomBytes(1024);
  const up = await upload(alice, bytes, { 'content-type': 'application/x-test' }, '?filename=data.bin');
  assert.equal(up.status, 200);
  const res = await download(mxcPath(up.json.content_uri), bob);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-test');
  assert.equal(res.headers.get('content-disposition'), 'attachment; filename="data.bin"');
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
});

test('20 MB streamed (chunked) upload round-trips byte-identical', async () => {
  const total = 20 * 1024 * 1024;
  const sent = createHash('sha256');
  let produced = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (produced >= total) return controller.close();
      const chunk = randomBytes(Math.min(256 * 1024, total - produced));
      produced += chunk.length;
      sent.update(chunk);
      controller.enqueue(chunk);
    },
  });
  const up = await upload(alice, body, { 'content-type': 'video/mp4' });
  assert.equal(up.status, 200, JSON.stringify(up.json));
  const res = await download(mxcPath(up.json.content_uri), alice);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), String(total));
  const got = createHash('sha256');
  let n = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    got.update(chunk);
    n += chunk.length;
  }
  assert.equal(n, total);
  assert.equal(got.digest('hex'), sent.digest('hex'));
});

test('Range requests return the requested bytes (206), suffix and open ranges, 416 past the end', async () => {
  const bytes = randomBytes(10_000);
  const path = mxcPath((await upload(alice, bytes, { 'content-type': 'audio/mpeg' })).json.content_uri);
  let res = await download(path, alice, { range: 'bytes=100-199' });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get('content-range'), 'bytes 100-199/10000');
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(100, 200)));
  res = await download(path, alice, { range: 'bytes=-500' });
  assert.equal(res.status, 206);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(9500)));
  res = await download(path, alice, { range: 'bytes=9990-' });
  assert.equal(res.headers.get('content-range'), 'bytes 9990-9999/10000');
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(9990)));
  res = await download(path, alice, { range: 'bytes=20000-' });
  assert.equal(res.status, 416);
  assert.equal(res.headers.get('content-range'), 'bytes */10000');
  await res.arrayBuffer();
  // A stale If-Range validator gets the whole file.
  res = await download(path, alice, { range: 'bytes=0-9', 'if-range': '"other"' });
  assert.equal(res.status, 200);
  assert.equal((await res.arrayBuffer()).byteLength, 10_000);
  // Revalidation: the ETag never changes for the same media.
  const etag = res.headers.get('etag')!;
  res = await download(path, alice, { 'if-none-match': etag });
  assert.equal(res.status, 304);
});

test('HEAD gives the headers without the body', async () => {
  const path = mxcPath((await upload(alice, randomBytes(3000), { 'content-type': 'video/webm' })).json.content_uri);
  const res = await fetch(`${t.baseUrl}/_matrix/client/v1/media/download/${path}`, { method: 'HEAD', headers: auth(alice) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), '3000');
  assert.equal(res.headers.get('content-type'), 'video/webm');
  assert.equal((await res.arrayBuffer()).byteLength, 0);
});

test('an upload cut off mid-way leaves nothing behind and the server carries on', async () => {
  const { port } = new URL(t.baseUrl);
  await new Promise<void>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/_matrix/media/v3/upload', headers: { ...auth(alice), 'content-length': 1_000_000 } });
    req.on('error', () => resolve());
    req.write(randomBytes(200_000), () => setTimeout(() => req.destroy(), 100));
  });
  for (let i = 0; i < 50 && readdirSync(join(t.dataDir, 'media', 'tmp')).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(readdirSync(join(t.dataDir, 'media', 'tmp')), []);
  assert.equal((await upload(alice, 'after the abort', { 'content-type': 'text/plain' })).status, 200);
});

test('v1 media endpoints require an access token', async () => {
  const path = mxcPath((await upload(alice, 'x', { 'content-type': 'text/plain' })).json.content_uri);
  for (const p of [
    `/_matrix/client/v1/media/download/${path}`,
    `/_matrix/client/v1/media/download/${path}/name.txt`,
    `/_matrix/client/v1/media/thumbnail/${path}?width=32&height=32`,
    `/_matrix/client/v1/media/config`,
    `/_matrix/client/v1/media/preview_url?url=https://example.org/`,
  ]) {
    const res = await fetch(t.baseUrl + p);
    assert.equal(res.status, 401, p);
    assert.equal(((await res.json()) as any).errcode, 'M_MISSING_TOKEN', p);
  }
  const res = await fetch(`${t.baseUrl}/_matrix/media/v3/upload`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 401);
});

test('uploads over max_upload_size get 413 M_TOO_LARGE (declared or streamed); config reports the limit', async () => {
  const cfg = await fetch(`${t.baseUrl}/_matrix/client/v1/media/config`, { headers: auth(alice) });
  assert.deepEqual(await cfg.json(), { 'm.upload.size': 25 * 1024 * 1024 });
  let up = await upload(alice, Buffer.alloc(25 * 1024 * 1024 + 1));
  assert.equal(up.status, 413);
  assert.equal(up.json.errcode, 'M_TOO_LARGE');
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= 26 * 1024 * 1024) return c.close();
      sent += 1024 * 1024;
      c.enqueue(new Uint8Array(1024 * 1024));
    },
  });
  up = await upload(alice, body);
  assert.equal(up.status, 413);
  assert.equal(up.json.errcode, 'M_TOO_LARGE');
  // Nothing half-written is left behind and the server still answers.
  assert.deepEqual(readdirSync(join(t.dataDir, 'media', 'tmp')), []);
  const ok = await upload(alice, 'still fine', { 'content-type': 'text/plain' });
  assert.equal(ok.status, 200);
});

test('per-user quota: an upload past it gets 403 M_FORBIDDEN; other users are unaffected', async () => {
  const carol = await registerUser(t.baseUrl);
  assert.equal((await upload(carol, Buffer.alloc(24 * 1024 * 1024))).status, 200);
  const over = await upload(carol, Buffer.alloc(17 * 1024 * 1024));
  assert.equal(over.status, 403);
  assert.equal(over.json.errcode, 'M_FORBIDDEN');
  assert.equal((await upload(bob, Buffer.alloc(17 * 1024 * 1024))).status, 200);
});

test('inline only for safe types whose bytes agree; hardening headers on every download', async () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
  const html = Buffer.from('<!DOCTYPE html><html><script>alert(1)</script></html>');
  const cases: Array<[Buffer, string, string]> = [
    [png, 'image/png', 'inline'],
    [html, 'image/png', 'attachment'], // HTML claiming to be an image
    [html, 'text/html', 'attachment'],
    [html, 'text/plain', 'attachment'], // text that is really markup
    [Buffer.from('just words'), 'text/plain', 'inline'],
    [Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>'), 'image/svg+xml', 'attachment'],
  ];
  for (const [bytes, type, want] of cases) {
    const path = mxcPath((await upload(alice, bytes, { 'content-type': type })).json.content_uri);
    const res = await download(path, alice);
    await res.arrayBuffer();
    assert.equal(res.headers.get('content-type'), type);
    assert.equal(res.headers.get('content-disposition'), want, `${type} with ${bytes.subarray(0, 8).toString('hex')}`);
    assert.match(res.headers.get('content-security-policy') ?? '', /^sandbox; default-src 'none'; script-src 'none';/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
  }
});

test('file names: the uploaded name, a name in the path overriding it, non-ASCII names', async () => {
  const path = mxcPath((await upload(alice, 'hi', { 'content-type': 'text/plain' }, `?filename=${encodeURIComponent('Grüße "1".txt')}`)).json.content_uri);
  let res = await download(path, alice);
  await res.arrayBuffer();
  assert.equal(res.headers.get('content-disposition'), `inline; filename="Gr__e \\"1\\".txt"; filename*=utf-8''Gr%C3%BC%C3%9Fe%20%221%22.txt`);
  res = await download(`${path}/other.txt`, alice);
  await res.arrayBuffer();
  assert.equal(res.headers.get('content-disposition'), 'inline; filename="other.txt"');
  const noName = mxcPath((await upload(alice, 'hi', { 'content-type': 'text/plain' })).json.content_uri);
  res = await download(noName, alice);
  await res.arrayBuffer();
  assert.equal(res.headers.get('content-disposition'), 'inline');
});

test('unknown and malformed media IDs are not found; an unreachable remote server is a 502', async () => {
  let res = await download('localhost/doesNotExist123', alice);
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as any).errcode, 'M_NOT_FOUND');
  res = await download('localhost/bad.id', alice);
  assert.equal(res.status, 404);
  await res.arrayBuffer();
  // Remote media is fetched over federation; a server that cannot be reached is a gateway error.
  res = await download('remote.invalid/abcdef', alice);
  assert.equal(res.status, 502);
  const body = (await res.json()) as { errcode: string; error: string };
  assert.equal(body.errcode, 'M_UNKNOWN');
  assert.match(body.error, /remote\.invalid/);
});

test('identical uploads share one file on disk but stay separate media', async () => {
  const bytes = randomBytes(4096);
  const a = (await upload(alice, bytes)).json.content_uri;
  const b = (await upload(bob, bytes)).json.content_uri;
  assert.notEqual(a, b);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const s = t.server.services;
  assert.ok(s.media.files.blobPath(sha));
  const rows = await s.db.all('SELECT media_id FROM media WHERE sha256 = ?', [sha]);
  assert.equal(rows.length, 2);
});

test('sharp is not loaded by uploads and downloads (startup and plain media stay lean)', () => {
  assert.equal(sharpLoaded(), false);
});
