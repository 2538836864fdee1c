/**
 * preview_url over real HTTP against a page served by a local test server: OpenGraph fields,
 * the og:image stored as local media, caching, byte limits; and the SSRF guard's default
 * refusal of loopback / link-local targets.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { registerUser, type TestUser } from '../../helpers/clients.ts';

let site: http.Server;
let siteUrl = '';
const hits = new Map<string, number>();
let png: Buffer;

let open: TestServer; // url_preview_ip_allowlist: 127.0.0.1
let strict: TestServer; // defaults
let u1: TestUser;
let u2: TestUser;

const PAGE = `<!doctype html><html><head>
<meta charset="utf-8">
<title>Fallback title</title>
<meta property="og:title" content="Hearth &amp; Home" />
<meta property="og:description" content="A Matrix server for small boards &#8212; caf&eacute;">
<meta name="description" content="not used: og:description wins">
<meta property='og:image' content='/pic.png'>
<script>var x = '<meta property="og:title" content="from a script">';</script>
</head><body><p>Hello</p></body></html>`;

before(async () => {
  png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#369' } }).png().toBuffer();
  site = http.createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    if (req.url === '/page') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(PAGE);
    }
    if (req.url === '/pic.png' || req.url === '/direct.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      return res.end(png);
    }
    if (req.url === '/moved') {
      res.writeHead(301, { location: '/page' });
      return res.end();
    }
    if (req.url === '/huge') {
      // The head comes first; the rest is far past the page limit and must not be read.
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<html><head><title>Huge page</title></head><body>');
      let sent = 0;
      const pump = () => {
        while (sent < 20 * 1024 * 1024) {
          sent += 64 * 1024;
          if (!res.write('x'.repeat(64 * 1024))) return res.once('drain', pump);
        }
        res.end('</body></html>');
      };
      res.on('error', () => undefined);
      return pump();
    }
    if (req.url === '/plain') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('just text');
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  open = await startTestServer({ open_registration: true, rate_limits: false, url_preview_ip_allowlist: ['127.0.0.1'] });
  strict = await startTestServer({ open_registration: true, rate_limits: false });
  u1 = await registerUser(open.baseUrl);
  u2 = await registerUser(strict.baseUrl);
});

after(async () => {
  site.closeAllConnections();
  await new Promise<void>((r) => site.close(() => r()));
  await open.cleanup();
  await strict.cleanup();
});

async function preview(t: TestServer, u: TestUser, url: string, prefix = '/_matrix/client/v1/media'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.baseUrl}${prefix}/preview_url?url=${encodeURIComponent(url)}`, { headers: { authorization: `Bearer ${u.accessToken}` } });
  return { status: res.status, body: await res.json() };
}

test('OpenGraph preview of a local page (allowed by config), with its image stored as media', async () => {
  const r = await preview(open, u1, `${siteUrl}/page#section`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body['og:title'], 'Hearth & Home');
  assert.equal(r.body['og:description'], 'A Matrix server for small boards \u2014 café');
  assert.match(r.body['og:image'], /^mxc:\/\/localhost\/[A-Za-z0-9_-]+$/);
  assert.equal(r.body['og:image:type'], 'image/png');
  assert.equal(r.body['matrix:image:size'], png.length);
  assert.equal(r.body['og:image:width'], 64);
  assert.equal(r.body['og:image:height'], 48);
  const img = await fetch(`${open.baseUrl}/_matrix/client/v1/media/download/${r.body['og:image'].slice(6)}`, {
    headers: { authorization: `Bearer ${u1.accessToken}` },
  });
  assert.ok(Buffer.from(await img.arrayBuffer()).equals(png));
});

test('previews are cached: asking again does not fetch the page again', async () => {
  const before = hits.get('/page') ?? 0;
  const a = await preview(open, u1, `${siteUrl}/page`);
  const b = await preview(open, u1, `${siteUrl}/page`, '/_matrix/media/v3');
  assert.deepEqual(a.body, b.body);
  assert.equal(hits.get('/page') ?? 0, before, 'served from the cache (the first test fetched it already)');
});

test('redirects are followed; a direct image link previews as the image; other types give an empty preview', async () => {
  const moved = await preview(open, u1, `${siteUrl}/moved`);
  assert.equal(moved.body['og:title'], 'Hearth & Home');
  const direct = await preview(open, u1, `${siteUrl}/direct.png`);
  assert.equal(direct.body['og:title'], 'direct.png');
  assert.equal(direct.body['og:image:width'], 64);
  const plain = await preview(open, u1, `${siteUrl}/plain`);
  assert.equal(plain.status, 200);
  assert.deepEqual(plain.body, {});
});

test('only the head of a huge page is read', async () => {
  const rss = process.memoryUsage().rss;
  const r = await preview(open, u1, `${siteUrl}/huge`);
  assert.equal(r.status, 200);
  assert.equal(r.body['og:title'], 'Huge page');
  assert.ok(process.memoryUsage().rss - rss < 15 * 1024 * 1024, 'did not buffer the 20 MB page');
});

test('by default, previews of loopback, link-local and private addresses are refused without connecting', async () => {
  const before = hits.get('/page') ?? 0;
  for (const url of [`${siteUrl}/page`, 'http://127.0.0.1/', `http://localhost:${new URL(siteUrl).port}/page`, 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://10.0.0.1/']) {
    const r = await preview(strict, u2, url);
    assert.equal(r.status, 403, `${url}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.errcode, 'M_FORBIDDEN');
  }
  assert.equal(hits.get('/page') ?? 0, before);
});

test('bad preview requests: missing or non-http URLs', async () => {
  let r = await preview(strict, u2, 'ftp://example.org/file');
  assert.equal(r.status, 400);
  r = await preview(strict, u2, 'not a url');
  assert.equal(r.status, 400);
  const res = await fetch(`${strict.baseUrl}/_matrix/client/v1/media/preview_url`, { headers: { authorization: `Bearer ${u2.accessToken}` } });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as any).errcode, 'M_MISSING_PARAM');
});

test('housekeeping drops preview images after two days (pages are fetched again anyway)', async () => {
  const r = await preview(open, u1, `${siteUrl}/direct.png`);
  const path = r.body['og:image'].slice('mxc://'.length);
  const s = open.server.services;
  const dl = () => fetch(`${open.baseUrl}/_matrix/client/v1/media/download/${path}`, { headers: { authorization: `Bearer ${u1.accessToken}` } });
  await s.media.maintain();
  let res = await dl();
  assert.equal(res.status, 200, 'kept while fresh');
  await res.arrayBuffer();
  const realNow = s.now;
  s.now = () => realNow() + 3 * 86_400_000;
  try {
    await s.media.maintain();
  } finally {
    s.now = realNow;
  }
  res = await dl();
  assert.equal(res.status, 404);
  await res.arrayBuffer();
});
