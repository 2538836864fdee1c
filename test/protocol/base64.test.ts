import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Base64Error, decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url, tryDecodeBase64 } from '../../server/protocol/base64.ts';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

// appendices.md "Unpadded Base64" examples.
const SPEC: [string, string][] = [
  ['', ''],
  ['f', 'Zg'],
  ['fo', 'Zm8'],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg'],
  ['fooba', 'Zm9vYmE'],
  ['foobar', 'Zm9vYmFy'],
];

test('unpadded base64: the spec examples both ways', () => {
  for (const [plain, encoded] of SPEC) {
    assert.equal(encodeBase64(bytes(plain)), encoded);
    assert.deepEqual(decodeBase64(encoded), bytes(plain));
  }
});

test('decoding accepts padded and unpadded input, but only correct padding', () => {
  assert.deepEqual(decodeBase64('Zg=='), bytes('f'));
  assert.deepEqual(decodeBase64('Zm8='), bytes('fo'));
  assert.deepEqual(decodeBase64Url('Zg=='), bytes('f'));
  for (const bad of ['Zg=', 'Zm9v=', 'Zm9v==', '=', 'Z', 'Zm9vY', 'Zm 9v', 'Zm9v!', 'Zm-v', 'Zm_v']) {
    assert.throws(() => decodeBase64(bad), Base64Error, bad);
  }
  assert.throws(() => decodeBase64Url('ab+/'), Base64Error);
  assert.equal(tryDecodeBase64('***'), undefined);
});

test('URL-safe base64 uses - and _ where standard uses + and /', () => {
  const data = new Uint8Array([0xfb, 0xff, 0xbf, 0x3e]);
  assert.equal(encodeBase64(data), '+/+/Pg');
  assert.equal(encodeBase64Url(data), '-_-_Pg');
  assert.deepEqual(decodeBase64Url('-_-_Pg'), data);
  assert.deepEqual(decodeBase64('+/+/Pg'), data);
});

test('unused trailing bits are ignored (the spec test seed has them set)', () => {
  const seed = decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1');
  assert.equal(seed.length, 32);
  assert.equal(encodeBase64(seed), 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0');
});

test('encoding a view of a larger buffer encodes only the view', () => {
  const big = new Uint8Array([1, 2, 3, 4, 5]);
  assert.equal(encodeBase64(big.subarray(1, 4)), encodeBase64(new Uint8Array([2, 3, 4])));
});
