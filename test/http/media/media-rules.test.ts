/**
 * The pure rules behind the media endpoints, case by case: Range parsing, thumbnail box
 * selection (spec default sizes, no upscaling), content sniffing, the inline decision and
 * OpenGraph extraction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../../server/http/media/send-file.ts';
import { chooseBox, outputSize } from '../../../server/services/media/thumbnail-sizes.ts';
import { sniff } from '../../../server/services/media/sniff.ts';
import { dispositionType, normaliseContentType } from '../../../server/services/media/serving-policy.ts';
import { parseOpenGraph } from '../../../server/services/media/og-parser.ts';

test('Range: single ranges honoured, multi-range and malformed headers get the whole file', () => {
  assert.deepEqual(parseRange('bytes=0-0', 10), { kind: 'partial', start: 0, end: 0 });
  assert.deepEqual(parseRange('bytes=5-100', 10), { kind: 'partial', start: 5, end: 9 });
  assert.deepEqual(parseRange('bytes=-3', 10), { kind: 'partial', start: 7, end: 9 });
  assert.deepEqual(parseRange('bytes=-30', 10), { kind: 'partial', start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=10-', 10), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 10), { kind: 'unsatisfiable' });
  for (const h of [undefined, 'bytes=0-1,4-5', 'items=0-1', 'bytes=5-2', 'bytes=-', 'bytes=abc']) {
    assert.deepEqual(parseRange(h, 10), { kind: 'full' }, String(h));
  }
});

test('thumbnail boxes: smallest spec default that is large enough and (for crop) of the same aspect', () => {
  assert.deepEqual(chooseBox({ width: 10, height: 10, method: 'crop' }), { width: 32, height: 32, method: 'crop' });
  assert.deepEqual(chooseBox({ width: 64, height: 64, method: 'crop' }), { width: 96, height: 96, method: 'crop' });
  assert.deepEqual(chooseBox({ width: 64, height: 32, method: 'crop' }), { width: 64, height: 32, method: 'crop' });
  assert.deepEqual(chooseBox({ width: 100, height: 100, method: 'scale' }), { width: 320, height: 240, method: 'scale' });
  assert.deepEqual(chooseBox({ width: 700, height: 400, method: 'scale' }), { width: 800, height: 600, method: 'scale' });
  assert.deepEqual(chooseBox({ width: 5000, height: 5000, method: 'scale' }), { width: 2048, height: 2048, method: 'scale' });
  assert.deepEqual(outputSize(4000, 3000, { width: 320, height: 240, method: 'scale' }), { width: 320, height: 240 });
  assert.deepEqual(outputSize(3000, 4000, { width: 320, height: 240, method: 'scale' }), { width: 180, height: 240 });
  assert.deepEqual(outputSize(100, 50, { width: 320, height: 240, method: 'scale' }), { width: 100, height: 50 }, 'never upscaled');
  assert.deepEqual(outputSize(4000, 3000, { width: 96, height: 96, method: 'crop' }), { width: 96, height: 96 });
  assert.deepEqual(outputSize(200, 50, { width: 96, height: 96, method: 'crop' }), { width: 50, height: 50 }, 'crop of a strip keeps the box aspect, no upscale');
});

test('sniffing recognises images, media containers, markup and text', () => {
  const b = (hex: string, tail = '') => Buffer.concat([Buffer.from(hex, 'hex'), Buffer.from(tail, 'latin1')]);
  assert.equal(sniff(b('ffd8ffe000104a464946')), 'image/jpeg');
  assert.equal(sniff(b('89504e470d0a1a0a')), 'image/png');
  assert.equal(sniff(b('', 'GIF89a....')), 'image/gif');
  assert.equal(sniff(b('', 'RIFF\x00\x00\x00\x00WEBPVP8 ')), 'image/webp');
  assert.equal(sniff(b('', '\x00\x00\x00\x20ftypisom')), 'video/mp4');
  assert.equal(sniff(b('', '\x00\x00\x00\x20ftypavif')), 'image/avif');
  assert.equal(sniff(b('1a45dfa3', '\x93\x42\x82\x88webm')), 'video/webm');
  assert.equal(sniff(b('', 'OggS\x00')), 'application/ogg');
  assert.equal(sniff(b('', 'ID3\x04')), 'audio/mpeg');
  assert.equal(sniff(b('', '%PDF-1.7')), 'application/pdf');
  assert.equal(sniff(b('', '  <!-- x -->\n<HTML><body>')), 'text/html');
  assert.equal(sniff(b('efbbbf', '<svg xmlns="http://www.w3.org/2000/svg">')), 'image/svg+xml');
  assert.equal(sniff(b('', 'plain words, a b c\n')), 'text');
  assert.equal(sniff(b('0001020304050607')), null);
});

test('inline decision: listed type and agreeing bytes; bad Content-Type values become octet-stream', () => {
  assert.equal(dispositionType('image/PNG', 'image/png'), 'inline');
  assert.equal(dispositionType('image/png', 'image/jpeg'), 'inline', 'a mislabelled but real image is still only an image');
  assert.equal(dispositionType('image/png', 'text/html'), 'attachment');
  assert.equal(dispositionType('image/png', null), 'attachment');
  assert.equal(dispositionType('video/mp4', 'video/mp4'), 'inline');
  assert.equal(dispositionType('audio/ogg', 'application/ogg'), 'inline');
  assert.equal(dispositionType('text/plain; charset=utf-8', 'text'), 'inline');
  assert.equal(dispositionType('application/json', 'text/html'), 'attachment');
  assert.equal(dispositionType('application/pdf', 'application/pdf'), 'attachment');
  assert.equal(dispositionType('image/svg+xml', 'image/svg+xml'), 'attachment');
  assert.equal(normaliseContentType('text/plain; charset=utf-8'), 'text/plain; charset=utf-8');
  for (const bad of [undefined, '', 'nonsense', 'text/plain\r\nX-Evil: 1', 'a/b; c']) {
    assert.equal(normaliseContentType(bad), 'application/octet-stream', String(bad));
  }
});

test('OpenGraph: og tags first, then twitter/description/title fallbacks; numbers for image sizes', () => {
  const og = parseOpenGraph(`<html><head><title>T &amp; t</title>
    <meta name="twitter:description" content="tw desc"><meta name="twitter:image" content="https://x/i.png">
    <meta property="og:image:width" content="640"><meta property="og:image:height" content="lots">
    <!-- <meta property="og:title" content="commented out"> --></head></html>`);
  assert.deepEqual(og, { 'og:image:width': 640, 'og:title': 'T & t', 'og:description': 'tw desc', 'og:image': 'https://x/i.png' });
  assert.deepEqual(parseOpenGraph('no markup at all'), {});
});
