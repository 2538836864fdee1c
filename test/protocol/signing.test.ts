import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBase64 } from '../../server/protocol/base64.ts';
import { checkContentHash, signEvent, verifyEventSignature } from '../../server/protocol/hashing.ts';
import { redact } from '../../server/protocol/redaction.ts';
import { getRoomVersion } from '../../server/protocol/room-versions.ts';
import {
  effectiveValidUntilTs,
  isKeyValidForEvent,
  makeServerKeys,
  MAX_KEY_VALIDITY_MS,
  parseKeyId,
  readServerKeys,
  signatureKeyIds,
  signingKeyFromSeed,
  signJson,
  verifyJsonSignature,
} from '../../server/protocol/signing.ts';
import type { JsonObject } from '../../server/protocol/pdu-types.ts';

// appendices.md "Cryptographic Test Vectors".
const SEED = 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1';
const SERVER = 'domain';
const KEY_ID = 'ed25519:1';
const v1 = getRoomVersion('1')!;

test('JSON signing vector: empty object', () => {
  assert.deepEqual(signJson({}, SERVER, KEY_ID, SEED), {
    signatures: {
      domain: { 'ed25519:1': 'K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ' },
    },
  });
});

test('JSON signing vector: object with data values', () => {
  const signed = signJson({ one: 1, two: 'Two' }, SERVER, KEY_ID, SEED);
  assert.deepEqual(signed, {
    one: 1,
    signatures: {
      domain: { 'ed25519:1': 'KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw' },
    },
    two: 'Two',
  });
  const key = signingKeyFromSeed(SEED, KEY_ID);
  assert.equal(verifyJsonSignature(signed, SERVER, KEY_ID, key.publicKey), true);
  assert.equal(verifyJsonSignature(signed, SERVER, KEY_ID, key.publicKeyBase64), true);
});

test('event signing vector: minimal event (hashes and signature)', () => {
  const event: JsonObject = {
    room_id: '!x:domain',
    sender: '@a:domain',
    origin: 'domain',
    origin_server_ts: 1000000,
    signatures: {},
    hashes: {},
    type: 'X',
    content: {},
    prev_events: [],
    auth_events: [],
    depth: 3,
    unsigned: { age_ts: 1000000 },
  };
  assert.deepEqual(signEvent(event, v1, SERVER, KEY_ID, SEED), {
    auth_events: [],
    content: {},
    depth: 3,
    hashes: { sha256: '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos' },
    origin: 'domain',
    origin_server_ts: 1000000,
    prev_events: [],
    room_id: '!x:domain',
    sender: '@a:domain',
    signatures: {
      domain: { 'ed25519:1': 'KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg' },
    },
    type: 'X',
    unsigned: { age_ts: 1000000 },
  });
});

test('event signing vector: event with redactable content; signature survives redaction, hash does not', () => {
  const event: JsonObject = {
    content: { body: 'Here is the message content' },
    event_id: '$0:domain',
    origin: 'domain',
    origin_server_ts: 1000000,
    type: 'm.room.message',
    room_id: '!r:domain',
    sender: '@u:domain',
    signatures: {},
    unsigned: { age_ts: 1000000 },
  };
  const signed = signEvent(event, v1, SERVER, KEY_ID, SEED);
  assert.deepEqual(signed, {
    content: { body: 'Here is the message content' },
    event_id: '$0:domain',
    hashes: { sha256: 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g' },
    origin: 'domain',
    origin_server_ts: 1000000,
    type: 'm.room.message',
    room_id: '!r:domain',
    sender: '@u:domain',
    signatures: {
      domain: { 'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA' },
    },
    unsigned: { age_ts: 1000000 },
  });
  const pub = signingKeyFromSeed(SEED, KEY_ID).publicKey;
  assert.equal(checkContentHash(signed, v1), true);
  assert.equal(verifyEventSignature(signed, v1, SERVER, KEY_ID, pub), true);
  const redacted = redact(signed, v1);
  assert.equal(verifyEventSignature(redacted, v1, SERVER, KEY_ID, pub), true);
  assert.equal(checkContentHash(redacted, v1), false);
  // Changing protected content breaks the signature.
  assert.equal(verifyEventSignature({ ...signed, sender: '@v:domain' }, v1, SERVER, KEY_ID, pub), false);
});

test('signature checks ignore signatures/unsigned and fail safely on bad input', () => {
  const key = signingKeyFromSeed(SEED, KEY_ID);
  const other = signingKeyFromSeed(new Uint8Array(32).fill(7), 'ed25519:2');
  const signed = signJson({ a: 1, unsigned: { age: 5 } }, SERVER, KEY_ID, key.seed);
  assert.equal(verifyJsonSignature({ ...signed, unsigned: { age: 99 } }, SERVER, KEY_ID, key.publicKey), true);
  const twice = signJson(signed, 'other.example', other.keyId, other.seed);
  assert.equal(verifyJsonSignature(twice, SERVER, KEY_ID, key.publicKey), true);
  assert.equal(verifyJsonSignature(twice, 'other.example', other.keyId, other.publicKey), true);
  assert.deepEqual(signatureKeyIds(twice, SERVER), [KEY_ID]);
  assert.equal(verifyJsonSignature({ ...signed, a: 2 }, SERVER, KEY_ID, key.publicKey), false);
  assert.equal(verifyJsonSignature(signed, SERVER, KEY_ID, other.publicKey), false);
  assert.equal(verifyJsonSignature(signed, 'nobody', KEY_ID, key.publicKey), false);
  assert.equal(verifyJsonSignature(signed, SERVER, 'ed25519:nope', key.publicKey), false);
  assert.equal(verifyJsonSignature({ ...signed, signatures: { domain: { [KEY_ID]: '!!' } } }, SERVER, KEY_ID, key.publicKey), false);
  assert.equal(verifyJsonSignature({ ...signed, signatures: { domain: { [KEY_ID]: 'AAAA' } } }, SERVER, KEY_ID, key.publicKey), false);
  assert.equal(verifyJsonSignature(signed, SERVER, KEY_ID, new Uint8Array(5)), false);
  assert.equal(verifyJsonSignature(signed, SERVER, KEY_ID, 'not base64!'), false);
  assert.equal(verifyJsonSignature({ a: 1, signatures: 'x' }, SERVER, KEY_ID, key.publicKey), false);
});

test('key IDs and seeds', () => {
  assert.deepEqual(parseKeyId('ed25519:abc_1'), { algorithm: 'ed25519', version: 'abc_1' });
  assert.equal(parseKeyId('ed25519:'), undefined);
  assert.equal(parseKeyId('ed25519:a-b'), undefined);
  assert.equal(parseKeyId('noversion'), undefined);
  assert.throws(() => signingKeyFromSeed(new Uint8Array(31), 'ed25519:a'), RangeError);
  assert.throws(() => signingKeyFromSeed(SEED, 'curve25519:a'), RangeError);
  const a = signingKeyFromSeed(SEED, KEY_ID);
  const b = signingKeyFromSeed(SEED, 'ed25519:other');
  assert.equal(a.publicKeyBase64, b.publicKeyBase64); // same seed, same key pair
  assert.equal(encodeBase64(a.seed), 'YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0');
});

test('key validity: valid_until_ts enforced from v5, expired_ts for old keys', () => {
  const v4 = getRoomVersion('4')!;
  const v5 = getRoomVersion('5')!;
  const key = { validUntilTs: 1000 };
  assert.equal(isKeyValidForEvent(key, 1000, v5), true); // origin_server_ts <= valid_until_ts
  assert.equal(isKeyValidForEvent(key, 1001, v5), false);
  assert.equal(isKeyValidForEvent(key, 1001, v4), true); // v1–v4 ignore valid_until_ts
  const old = { expiredTs: 500 };
  assert.equal(isKeyValidForEvent(old, 500, v4), true);
  assert.equal(isKeyValidForEvent(old, 501, v4), false);
  assert.equal(isKeyValidForEvent(old, 501, getRoomVersion('12')!), false);
  assert.equal(effectiveValidUntilTs(10 ** 15, 1000), 1000 + MAX_KEY_VALIDITY_MS);
  assert.equal(effectiveValidUntilTs(2000, 1000), 2000);
});

test('server key objects: build, self-sign, read back, refuse tampering', () => {
  const k1 = signingKeyFromSeed(new Uint8Array(32).fill(1), 'ed25519:a1');
  const old = signingKeyFromSeed(new Uint8Array(32).fill(2), 'ed25519:a0');
  const obj = makeServerKeys('hs.example', [k1], [{ keyId: old.keyId, publicKeyBase64: old.publicKeyBase64, expiredTs: 1234 }], 5_000_000);
  assert.equal(obj.verify_keys['ed25519:a1']!.key, k1.publicKeyBase64);
  assert.equal(verifyJsonSignature(obj, 'hs.example', 'ed25519:a1', k1.publicKey), true);
  const keys = readServerKeys(JSON.parse(JSON.stringify(obj)), 'hs.example', 4_000_000);
  assert.ok(keys instanceof Map);
  assert.deepEqual(keys.get('ed25519:a1'), { key: k1.publicKey, validUntilTs: 5_000_000 });
  assert.deepEqual(keys.get('ed25519:a0'), { key: old.publicKey, expiredTs: 1234 });
  assert.equal(readServerKeys(obj, 'other.example', 0), 'server_name does not match');
  assert.equal(readServerKeys({ ...obj, valid_until_ts: 6_000_000 }, 'hs.example', 0), 'bad signature by ed25519:a1');
  assert.equal(readServerKeys({ ...obj, signatures: {} }, 'hs.example', 0), 'not signed by the server itself');
  assert.equal(typeof readServerKeys({ ...obj, verify_keys: { 'ed25519:x': { key: '!' } } }, 'hs.example', 0), 'string');
});
