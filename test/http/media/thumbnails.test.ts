/**
 * Thumbnails over real HTTP, from images made with sharp at test time: PNG, JPEG, WebP and GIF
 * with the requested dimensions read back, crop vs scale, the spec's default sizes, animation,
 * EXIF orientation, metadata stripping, and bombs / malformed images refused with the server alive.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { registerUser, type TestUser } from '../../helpers/clients.ts';

let t: TestServer;
let alice: TestUser;

before(async () => {
  t = await startTestServer({ open_registration: true, rate_limits: false, media_max_image_pixels: 20_000_000 });
  alice = await registerUser(t.baseUrl);
});
after(() => t.cleanup());

const auth = () => ({ authorization: `Bearer ${alice.accessToken}` });

async function upload(bytes: Buffer, type: string): Promise<string> {
  const res = await fetch(`${t.baseUrl}/_matrix/media/v3/upload`, { method: 'POST', headers: { ...auth(), 'content-type': type }, body: new Uint8Array(bytes) });
  assert.equal(res.status, 200);
  return ((await res.json()) as { content_uri: string }).content_uri.slice('mxc://'.length);
}

async function thumb(path: string, q: string): Promise<{ status: number; type: string | null; body: Buffer; headers: Headers }> {
  const res = await fetch(`${t.baseUrl}/_matrix/client/v1/media/thumbnail/${path}?${q}`, { headers: auth() });
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

async function dims(buf: Buffer): Promise<[number, number]> {
  const m = await sharp(buf).metadata();
  return [m.width, m.height];
}

/** A picture with structure (noise), so encoders do real work. */
const picture = (width: number, height: number, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background: { r: 40, g: 120, b: 200, alpha: 1 }, noise: { type: 'gaussian', mean: 120, sigma: 40 } } });

/** Flat colour blocks: cheap to encode as GIF. */
const flat = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#2a7' } }).composite([
    { input: { create: { width: Math.floor(width / 2), height: Math.floor(height / 2), channels: 3, background: '#c33' } }, top: 0, left: 0 },
  ]);

/** An animated image: `frames` frames of different colours, stacked as sharp expects (pageHeight). */
function animation(width: number, height: number, frames: number) {
  const raw = Buffer.alloc(width * height * frames * 3);
  for (let f = 0; f < frames; f++) raw.fill(Buffer.from([f * 60, 255 - f * 60, 128]), f * width * height * 3, (f + 1) * width * height * 3);
  return sharp(raw, { raw: { width, height: height * frames, channels: 3, pageHeight: height } });
}

test('PNG, JPEG, WebP and GIF: thumbnails have the dimensions asked for (scale fits the box, crop fills it)', async () => {
  const sources: Array<[string, Buffer]> = [
    ['image/png', await picture(800, 600).png().toBuffer()],
    ['image/jpeg', await picture(800, 600).jpeg().toBuffer()],
    ['image/webp', await picture(800, 600).webp().toBuffer()],
    // GIF: flat colours (quantising noise into a palette takes the encoder many seconds).
    ['image/gif', await flat(800, 600).gif().toBuffer()],
  ];
  for (const [type, bytes] of sources) {
    const path = await upload(bytes, type);
    // scale 320x240 of a 4:3 image: exactly the box.
    let r = await thumb(path, 'width=320&height=240&method=scale');
    assert.equal(r.status, 200, `${type}: ${r.body.toString()}`);
    assert.deepEqual(await dims(r.body), [320, 240], type);
    // scale into a square box keeps the aspect ratio: 96x72 (served from the 320x240 default).
    r = await thumb(path, 'width=96&height=96&method=scale');
    const [w, h] = await dims(r.body);
    assert.ok(w >= 96 || h >= 96, `${type}: scale result ${w}x${h} is smaller than asked`);
    assert.equal(Math.round((w / h) * 3), 4, `${type}: scale kept the aspect ratio (${w}x${h})`);
    // crop fills the box exactly.
    r = await thumb(path, 'width=96&height=96&method=crop');
    assert.deepEqual(await dims(r.body), [96, 96], type);
    assert.match(r.type ?? '', /^image\/(png|jpeg)$/);
    assert.equal(r.headers.get('content-disposition'), `inline; filename="thumbnail.${r.type === 'image/png' ? 'png' : 'jpg'}"`);
    // A non-default crop size is made as asked.
    r = await thumb(path, 'width=150&height=50&method=crop');
    assert.deepEqual(await dims(r.body), [150, 50], type);
  }
});

test('small requests map to the spec default sizes; a JPEG source gives a JPEG, alpha gives a PNG', async () => {
  const path = await upload(await picture(1000, 1000).jpeg().toBuffer(), 'image/jpeg');
  let r = await thumb(path, 'width=50&height=50&method=crop');
  assert.deepEqual(await dims(r.body), [96, 96], 'served from the 96x96 crop default, never smaller than asked');
  assert.equal(r.type, 'image/jpeg');
  r = await thumb(path, 'width=20&height=20&method=crop');
  assert.deepEqual(await dims(r.body), [32, 32]);
  const alpha = await upload(await picture(400, 400, 4).png().toBuffer(), 'image/png');
  r = await thumb(alpha, 'width=32&height=32&method=crop');
  assert.equal(r.type, 'image/png');
  assert.equal((await sharp(r.body).metadata()).hasAlpha, true);
});

test('content smaller than the request is returned at its own size, never upscaled', async () => {
  const path = await upload(await picture(60, 40).png().toBuffer(), 'image/png');
  for (const q of ['width=320&height=240&method=scale', 'width=96&height=96&method=crop', 'width=800&height=600&method=crop']) {
    const r = await thumb(path, q);
    assert.equal(r.status, 200);
    assert.deepEqual(await dims(r.body), [60, 40], q);
  }
});

test('animated GIF: animated=true gives an animated WebP of the requested size; otherwise a still image', async () => {
  const frames = 4;
  const gif = await animation(300, 300, frames).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, frames);
  const path = await upload(gif, 'image/gif');
  let r = await thumb(path, 'width=96&height=96&method=crop&animated=true');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'image/webp');
  let m = await sharp(r.body, { animated: true }).metadata();
  assert.equal(m.pages, frames);
  assert.deepEqual([m.width, m.pageHeight], [96, 96]);
  for (const q of ['width=96&height=96&method=crop&animated=false', 'width=96&height=96&method=crop']) {
    r = await thumb(path, q);
    assert.equal(r.type, 'image/png', q);
    m = await sharp(r.body, { animated: true }).metadata();
    assert.equal(m.pages ?? 1, 1, `${q}: must not be animated`);
  }
  // A JPEG with animated=true behaves as animated=false (spec).
  const jpeg = await upload(await picture(400, 300).jpeg().toBuffer(), 'image/jpeg');
  r = await thumb(jpeg, 'width=96&height=96&method=crop&animated=true');
  assert.equal(r.type, 'image/jpeg');
});

test('EXIF orientation is applied and metadata (EXIF, ICC) is not copied into thumbnails', async () => {
  // Stored 1600x1200 with "rotate 90° CW" (orientation 6): it displays as 1200x1600.
  const jpeg = await picture(1600, 1200)
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({ IFD0: { Copyright: 'secret location', Artist: 'alice' } })
    .toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6);
  const path = await upload(jpeg, 'image/jpeg');
  const r = await thumb(path, 'width=320&height=240&method=scale');
  assert.deepEqual(await dims(r.body), [180, 240], 'portrait after orientation');
  const m = await sharp(r.body).metadata();
  assert.equal(m.orientation, undefined);
  assert.equal(m.exif, undefined);
  assert.ok(!r.body.includes('secret location'));
});

/** A valid PNG of width×height black pixels: a few hundred KB that would decode to gigabytes. */
function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  // Only the first rows are present: the decoder would already have to allocate for all of them.
  const rows = Buffer.alloc((width + 1) * 64);
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

test('decompression bombs get 413 M_TOO_LARGE, malformed images 400; the server keeps serving', async () => {
  const bomb = await upload(pngBomb(60_000, 60_000), 'image/png');
  let r = await thumb(bomb, 'width=32&height=32&method=crop');
  assert.equal(r.status, 413);
  assert.equal(JSON.parse(r.body.toString()).errcode, 'M_TOO_LARGE');

  const truncated = (await picture(800, 600).png().toBuffer()).subarray(0, 2000);
  const garbage = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(5000, 0x5a)]);
  const fakeJpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(3000, 0xee)]);
  for (const [bytes, type] of [
    [truncated, 'image/png'],
    [garbage, 'image/png'],
    [fakeJpeg, 'image/jpeg'],
  ] as const) {
    const path = await upload(bytes, type);
    r = await thumb(path, 'width=32&height=32&method=crop');
    assert.equal(r.status, 400, `${type}: ${r.body.toString()}`);
    assert.equal(JSON.parse(r.body.toString()).errcode, 'M_UNKNOWN');
  }
  // Not an image at all.
  const text = await upload(Buffer.from('hello'), 'text/plain');
  r = await thumb(text, 'width=32&height=32');
  assert.equal(r.status, 400);
  // Still alive and thumbnailing.
  const ok = await upload(await picture(200, 200).png().toBuffer(), 'image/png');
  r = await thumb(ok, 'width=32&height=32&method=crop');
  assert.equal(r.status, 200);
  assert.deepEqual(await dims(r.body), [32, 32]);
});

test('bad thumbnail parameters are 400 M_INVALID_PARAM', async () => {
  const path = await upload(await picture(100, 100).png().toBuffer(), 'image/png');
  for (const q of ['width=0&height=10', 'width=-5&height=10', 'width=abc&height=10', 'height=10', 'width=10&height=10&method=stretch', 'width=10&height=10&animated=maybe']) {
    const r = await thumb(path, q);
    assert.equal(r.status, 400, q);
    assert.equal(JSON.parse(r.body.toString()).errcode, 'M_INVALID_PARAM', q);
  }
});

test('default sizes are generated once and cached: repeated requests reuse the stored file', async () => {
  const path = await upload(await picture(1200, 900).jpeg().toBuffer(), 'image/jpeg');
  const first = await thumb(path, 'width=640&height=480&method=scale');
  assert.equal(first.status, 200);
  // Give the background pregeneration of the other default sizes a moment.
  const db = t.server.services.db;
  const sha = (await db.get<{ sha256: string }>('SELECT sha256 FROM media WHERE media_id = ?', [path.split('/')[1]!]))!.sha256;
  for (let i = 0; i < 100; i++) {
    const n = (await db.get<{ n: number }>('SELECT count(*) AS n FROM media_thumbnails WHERE sha256 = ?', [sha]))!.n;
    if (n >= 5) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const rows = await db.all<{ box_width: number; box_height: number; method: string }>(
    'SELECT box_width, box_height, method FROM media_thumbnails WHERE sha256 = ? ORDER BY box_width',
    [sha],
  );
  assert.deepEqual(
    rows.map((r) => `${r.box_width}x${r.box_height} ${r.method}`),
    ['32x32 crop', '96x96 crop', '320x240 scale', '640x480 scale', '800x600 scale'],
  );
  const again = await thumb(path, 'width=640&height=480&method=scale');
  assert.ok(again.body.equals(first.body));
  assert.equal(again.headers.get('etag'), first.headers.get('etag'));
});
