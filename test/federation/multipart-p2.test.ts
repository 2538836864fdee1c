/**
 * multipart/mixed reading and writing for federation media: answers split at every possible
 * byte, redirects, truncated and malformed answers, Content-Disposition filenames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { mediaMultipart, multipartBoundary, readMediaMultipart } from '../../server/services/federation/multipart.ts';
import { dispositionFilename } from '../../server/services/federation/media-fetch.ts';
import { tempDir } from '../helpers/server.ts';

function answer(boundary: string, media: Buffer, headers = 'Content-Type: image/png\r\nContent-Disposition: inline; filename="cat.png"'): Buffer {
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n{"k":1}\r\n--${boundary}\r\n${headers}\r\n\r\n`),
    media,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

function chunks(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

test('the boundary comes from the Content-Type, quoted or not', () => {
  assert.equal(multipartBoundary('multipart/mixed; boundary=abc123'), 'abc123');
  assert.equal(multipartBoundary('Multipart/Mixed; charset=x; boundary="a b:c"'), 'a b:c');
  assert.equal(multipartBoundary('multipart/form-data; boundary=abc'), undefined);
  assert.equal(multipartBoundary('application/json'), undefined);
  assert.equal(multipartBoundary(undefined), undefined);
});

test('the media part is read intact however the answer is split (including inside the delimiter)', async () => {
  // Bytes that look like a delimiter start but are not one must survive.
  const media = Buffer.concat([randomBytes(300), Buffer.from('\r\n--b0und'), randomBytes(300), Buffer.from('\r\n-')]);
  const whole = answer('b0undary', media);
  for (const size of [1, 2, 3, 7, 11, 64, 1000, whole.length]) {
    const part = await readMediaMultipart(chunks(whole, size), 'b0undary');
    assert.deepEqual(part.metadata, { k: 1 });
    assert.equal(part.headers['content-type'], 'image/png');
    assert.ok((await buffer(part.body!)).equals(media), `split every ${size} bytes`);
  }
});

test('a preamble before the first boundary and an empty media part are accepted', async () => {
  const whole = Buffer.concat([Buffer.from('This is a preamble.\r\n'), answer('xyz', Buffer.alloc(0))]);
  const part = await readMediaMultipart(Readable.from([whole]), 'xyz');
  assert.equal((await buffer(part.body!)).length, 0);
});

test('a Location part resolves without a body', async () => {
  const whole = Buffer.from('--B\r\nContent-Type: application/json\r\n\r\n{}\r\n--B\r\nLocation: https://cdn.example/m/1\r\n\r\n\r\n--B--\r\n');
  const part = await readMediaMultipart(chunks(whole, 5), 'B');
  assert.equal(part.headers.location, 'https://cdn.example/m/1');
  assert.equal(part.body, undefined);
});

test('a truncated answer errors the body stream instead of ending it', async () => {
  const whole = answer('B', randomBytes(5000));
  const cut = whole.subarray(0, whole.length - 200);
  const part = await readMediaMultipart(chunks(cut, 512), 'B');
  await assert.rejects(buffer(part.body!), /closing boundary/);
});

test('answers with no media part, bad JSON or no boundary at all are refused', async () => {
  await assert.rejects(readMediaMultipart(Readable.from([Buffer.from('--B\r\nContent-Type: application/json\r\n\r\n{}\r\n--B--\r\n')]), 'B'), /no media part/);
  await assert.rejects(readMediaMultipart(Readable.from([Buffer.from('--B\r\n\r\n{nope\r\n--B\r\n\r\nx\r\n--B--')]), 'B'), /not JSON/);
  await assert.rejects(readMediaMultipart(Readable.from([randomBytes(40_000)]), 'B'), /no multipart boundary/);
});

test('what we serve parses back to the same bytes and headers', async () => {
  const dir = tempDir('hearth-mp-');
  try {
    const file = join(dir, 'f');
    const bytes = randomBytes(200_000);
    writeFileSync(file, bytes);
    const mp = mediaMultipart(file, bytes.length, { 'Content-Type': 'application/pdf', 'Content-Disposition': 'attachment; filename="a.pdf"' });
    const raw = await buffer(mp.stream);
    assert.equal(raw.length, mp.length, 'declared length matches');
    const part = await readMediaMultipart(chunks(raw, 4096), multipartBoundary(mp.contentType)!);
    assert.deepEqual(part.metadata, {});
    assert.equal(part.headers['content-disposition'], 'attachment; filename="a.pdf"');
    assert.ok((await buffer(part.body!)).equals(bytes));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Content-Disposition filenames: filename* wins, quotes and escapes are undone', () => {
  assert.equal(dispositionFilename('inline; filename="cat.png"'), 'cat.png');
  assert.equal(dispositionFilename('attachment; filename=plain.txt'), 'plain.txt');
  assert.equal(dispositionFilename(`attachment; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt`), '€ rates.txt');
  assert.equal(dispositionFilename('inline; filename="a \\"quoted\\" name"'), 'a "quoted" name');
  assert.equal(dispositionFilename('inline'), undefined);
  assert.equal(dispositionFilename(undefined), undefined);
});
