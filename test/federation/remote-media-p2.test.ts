/**
 * Remote media over federation: a user on B downloads and thumbnails media uploaded on A
 * (GET /_matrix/federation/v1/media/download, multipart/mixed), B caches it (served while A is
 * down), unknown media is 404, the endpoints need X-Matrix. A scripted third server checks the
 * other shapes an origin may answer with: a `Location` redirect part, the deprecated
 * /_matrix/media/v3 fallback after 404 M_UNRECOGNIZED (with allow_remote=false), a truncated
 * answer (502, not cached).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { freePort, startFederation, type Federation } from '../helpers/federation.ts';
import { fedUser, type FedUser } from '../helpers/fed-clients.ts';
import { multipartBoundary, readMediaMultipart } from '../../server/services/federation/multipart.ts';
import { buffer } from 'node:stream/consumers';

let fed: Federation;
let alice: FedUser;
let bob: FedUser;
let scripted: https.Server;
let scriptedName: string;
let blobServer: http.Server;
const seen: string[] = [];
const redirected = randomBytes(3000);
const legacy = randomBytes(2000);

async function upload(u: FedUser, bytes: Buffer, type: string, filename: string): Promise<string> {
  const r = await fetch(`${u.server.baseUrl}/_matrix/media/v3/upload?filename=${encodeURIComponent(filename)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${u.accessToken}`, 'content-type': type },
    body: new Uint8Array(bytes),
  });
  assert.equal(r.status, 200);
  return ((await r.json()) as { content_uri: string }).content_uri;
}

function download(u: FedUser, mxc: string, path = 'download', query = ''): Promise<Response> {
  const [server, id] = mxc.slice('mxc://'.length).split('/');
  return fetch(`${u.server.baseUrl}/_matrix/client/v1/media/${path}/${server}/${id}${query}`, { headers: { authorization: `Bearer ${u.accessToken}` } });
}

before(async () => {
  fed = await startFederation(2);
  alice = await fedUser(fed.servers[0]!, 'alice');
  bob = await fedUser(fed.servers[1]!, 'bob');

  blobServer = http.createServer((req, res) => {
    seen.push(`blob ${req.url}`);
    res.writeHead(200, { 'content-type': 'text/plain', 'content-disposition': 'attachment; filename="notes.txt"' });
    res.end(redirected);
  });
  await new Promise<void>((r) => blobServer.listen(0, '127.0.0.1', r));
  const blobUrl = `http://127.0.0.1:${(blobServer.address() as AddressInfo).port}/blob/1`;

  // A server that speaks only what these tests need (its name is localhost:PORT like the others).
  const port = await freePort();
  scriptedName = `localhost:${port}`;
  scripted = https.createServer({ cert: readFileSync(fed.certs.certFile), key: readFileSync(fed.certs.keyFile) }, (req, res) => {
    const url = new URL(req.url!, 'https://x');
    url.pathname = decodeURIComponent(url.pathname);
    seen.push(`${req.headers.authorization?.startsWith('X-Matrix ') ? 'signed' : 'unsigned'} ${url.pathname}${url.search}`);
    const multipart = (second: string, body: Buffer = Buffer.alloc(0), cut = 0) => {
      const all = Buffer.concat([Buffer.from(`--BB\r\nContent-Type: application/json\r\n\r\n{}\r\n--BB\r\n${second}\r\n\r\n`), body, Buffer.from('\r\n--BB--\r\n')]);
      res.writeHead(200, { 'content-type': 'multipart/mixed; boundary=BB' });
      res.end(all.subarray(0, all.length - cut));
    };
    if (url.pathname === '/_matrix/federation/v1/media/download/redirected') return multipart(`Location: ${blobUrl}`);
    if (url.pathname === '/_matrix/federation/v1/media/download/truncated') return multipart('Content-Type: image/png', randomBytes(5000), 300);
    if (url.pathname === `/_matrix/media/v3/download/${scriptedName}/legacy`) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="old.bin"' });
      return res.end(legacy);
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' }));
  });
  await new Promise<void>((r) => scripted.listen(port, '127.0.0.1', r));
});

after(async () => {
  scripted?.close();
  blobServer?.close();
  await fed.cleanup();
});

test('B downloads media uploaded on A, with its type and filename', async () => {
  const bytes = randomBytes(150_000);
  const mxc = await upload(alice, bytes, 'application/pdf', 'report.pdf');
  const r = await download(bob, mxc);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/pdf');
  assert.match(r.headers.get('content-disposition') ?? '', /filename="report\.pdf"/);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(bytes));
});

test('B thumbnails A’s image from its cached copy of the original', async () => {
  const png = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#3a6' } }).png().toBuffer();
  const mxc = await upload(alice, png, 'image/png', 'green.png');
  const t = await download(bob, mxc, 'thumbnail', '?width=64&height=64&method=scale');
  assert.equal(t.status, 200);
  const meta = await sharp(Buffer.from(await t.arrayBuffer())).metadata();
  assert.ok(meta.width! <= 400 && meta.width! >= 64, `thumbnail width ${meta.width}`);
  // The original is in B's cache now.
  const rows = await fed.servers[1]!.test.server.services.db.all<{ is_remote: number }>('SELECT is_remote FROM media WHERE media_id = ?', [mxc.split('/').pop()!]);
  assert.deepEqual(rows.map((r) => r.is_remote), [1]);
});

test('unknown media on A is 404 on B; allow_remote=false is 404 without asking A', async () => {
  const r = await download(bob, `mxc://${fed.servers[0]!.name}/doesnotexist123`);
  assert.equal(r.status, 404);
  assert.equal(((await r.json()) as { errcode: string }).errcode, 'M_NOT_FOUND');
  const mxc = await upload(alice, randomBytes(100), 'application/octet-stream', 'x.bin');
  const local = await download(bob, mxc, 'download', '?allow_remote=false');
  assert.equal(local.status, 404);
});

test('the federation media endpoints need X-Matrix and answer multipart/mixed', async () => {
  const bytes = randomBytes(10_000);
  const mxc = await upload(alice, bytes, 'text/plain', 'a.txt');
  const id = mxc.split('/').pop()!;
  // Unsigned: refused.
  const A = fed.servers[0]!;
  const unsigned = await new Promise<number>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: A.port, path: `/_matrix/federation/v1/media/download/${id}`, ca: readFileSync(fed.certs.caFile), servername: 'localhost' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
  assert.equal(unsigned, 401);
  // Signed by B (its own federation client): two parts, JSON then the bytes.
  const client = fed.servers[1]!.test.server.services.federation.client;
  const res = await client.open(A.name, 'GET', `/_matrix/federation/v1/media/download/${id}`);
  assert.equal(res.statusCode, 200);
  const part = await readMediaMultipart(res, multipartBoundary(res.headers['content-type'])!);
  assert.deepEqual(part.metadata, {});
  assert.match(part.headers['content-type']!, /^text\/plain/);
  assert.ok((await buffer(part.body!)).equals(bytes));
  // Thumbnails too (of an image).
  const png = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#a36' } }).png().toBuffer();
  const pid = (await upload(alice, png, 'image/png', 'p.png')).split('/').pop()!;
  const tres = await client.open(A.name, 'GET', `/_matrix/federation/v1/media/thumbnail/${pid}`, { query: { width: 32, height: 32, method: 'crop' } });
  assert.equal(tres.statusCode, 200);
  const tpart = await readMediaMultipart(tres, multipartBoundary(tres.headers['content-type'])!);
  const tmeta = await sharp(await buffer(tpart.body!)).metadata();
  assert.ok(tmeta.width! >= 32 && tmeta.width! < 300);
  // Bad thumbnail parameters are the spec's 400.
  const bad = await client.request(A.name, 'GET', `/_matrix/federation/v1/media/thumbnail/${pid}`, { query: { width: 0, height: 32 } }).then(() => ({ status: 200 }), (e: { status: number }) => e);
  assert.equal(bad.status, 400);
});

test('a Location answer is followed (and the bytes cached), a legacy server is asked on /_matrix/media/v3', async () => {
  let r = await download(bob, `mxc://${scriptedName}/redirected`);
  assert.equal(r.status, 200, `${JSON.stringify(await r.clone().text())} ${seen.join(', ')}`);
  assert.match(r.headers.get('content-disposition') ?? '', /notes\.txt/);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(redirected));
  assert.ok(seen.includes('blob /blob/1'));

  r = await download(bob, `mxc://${scriptedName}/legacy`);
  assert.equal(r.status, 200);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(legacy));
  assert.ok(seen.includes('signed /_matrix/federation/v1/media/download/legacy?timeout_ms=20000'), seen.join('\n'));
  assert.ok(seen.some((x) => x.startsWith(`signed /_matrix/media/v3/download/${scriptedName}/legacy?allow_remote=false`)), seen.join('\n'));
});

test('a truncated answer is a 502 and is not cached', async () => {
  const before = seen.length;
  let r = await download(bob, `mxc://${scriptedName}/truncated`);
  assert.equal(r.status, 502);
  r = await download(bob, `mxc://${scriptedName}/truncated`);
  assert.equal(r.status, 502);
  assert.equal(seen.slice(before).filter((x) => x.includes('/truncated')).length, 2, 'asked again: nothing was cached');
});

test('cached remote media is still served when its origin is down', async () => {
  const bytes = randomBytes(4000);
  const mxc = await upload(alice, bytes, 'application/octet-stream', 'keep.bin');
  assert.equal((await download(bob, mxc)).status, 200);
  await fed.servers[0]!.stop();
  const r = await download(bob, mxc);
  assert.equal(r.status, 200);
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(bytes));
  // Something never fetched before cannot be: 502 (unreachable), not a hang.
  const gone = await download(bob, `mxc://${fed.servers[0]!.name}/nevercached1`);
  assert.equal(gone.status, 502);
});
