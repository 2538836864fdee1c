import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { encodeBase64 } from '../../server/protocol/base64.ts';
import { canonicalJson } from '../../server/protocol/canonical-json.ts';
import {
  addContentHash,
  addEventSignature,
  checkContentHash,
  computeContentHash,
  computeEventId,
  computeReferenceHash,
  computeRoomIdFromCreateEvent,
  eventReference,
  signEvent,
  verifyEventSignature,
} from '../../server/protocol/hashing.ts';
import { parseEventId, parseRoomId } from '../../server/protocol/identifiers.ts';
import { redact } from '../../server/protocol/redaction.ts';
import { getRoomVersion } from '../../server/protocol/room-versions.ts';
import { signingKeyFromSeed } from '../../server/protocol/signing.ts';
import type { JsonObject } from '../../server/protocol/pdu-types.ts';

const V = (id: string) => getRoomVersion(id)!;
const key = signingKeyFromSeed(new Uint8Array(32).fill(9), 'ed25519:k');

function message(ts: number, extra: JsonObject = {}): JsonObject {
  return {
    room_id: '!r:hs.example',
    sender: '@u:hs.example',
    type: 'm.room.message',
    content: { body: 'hello', msgtype: 'm.text' },
    origin_server_ts: ts,
    depth: 5,
    prev_events: [],
    auth_events: [],
    hashes: {},
    signatures: {},
    ...extra,
  };
}

const sha256b64 = (s: string) => encodeBase64(createHash('sha256').update(s, 'utf8').digest());

test('content hash: sha256 of canonical JSON without unsigned, signatures, hashes', () => {
  const e = message(1, { unsigned: { age: 3 }, hashes: { sha256: 'old' }, signatures: { x: {} } });
  const { unsigned: _u, hashes: _h, signatures: _s, ...rest } = e;
  assert.equal(encodeBase64(computeContentHash(e, V('10'))), sha256b64(canonicalJson(rest)));
  const hashed = addContentHash({ ...e, hashes: { sha256: 'old', other: 'keep' } }, V('10'));
  assert.deepEqual(Object.keys(hashed.hashes as object).sort(), ['other', 'sha256']);
  assert.equal(checkContentHash(hashed, V('10')), true);
  assert.equal(checkContentHash({ ...hashed, unsigned: { age: 999 } }, V('10')), true); // unsigned is not covered
  assert.equal(checkContentHash({ ...hashed, content: { body: 'edited' } }, V('10')), false);
  assert.equal(checkContentHash({ ...hashed, hashes: {} }, V('10')), false);
  assert.equal(checkContentHash({ ...hashed, hashes: { sha256: '%%%' } }, V('10')), false);
});

test('reference hash: sha256 of the redacted event without signatures and unsigned', () => {
  const e = signEvent(message(1, { unsigned: { age: 1 } }), V('10'), 'hs.example', key.keyId, key.seed);
  const { signatures: _s, unsigned: _u, ...redacted } = redact(e, V('10'));
  assert.equal(encodeBase64(computeReferenceHash(e, V('10'))), sha256b64(canonicalJson(redacted)));
  // Signatures and unsigned data do not change it; the content does (through hashes).
  const ref = encodeBase64(computeReferenceHash(e, V('10')));
  assert.equal(encodeBase64(computeReferenceHash({ ...e, signatures: {}, unsigned: { x: 1 } }, V('10'))), ref);
  assert.notEqual(encodeBase64(computeReferenceHash(addContentHash({ ...e, content: { body: 'x' } }, V('10')), V('10'))), ref);
});

test('event IDs: v1 is the origin-chosen ID, v3 standard base64, v4+ URL-safe base64', () => {
  // Find an event whose reference hash has + or / so the two alphabets differ visibly.
  let e = message(0);
  for (let ts = 0; !/[+/]/.test(encodeBase64(computeReferenceHash(e, V('3')))); ts++) e = message(ts);
  const hash = encodeBase64(computeReferenceHash(e, V('3')));
  const v3id = computeEventId(e, V('3'));
  const v4id = computeEventId(e, V('4'));
  assert.equal(v3id, `$${hash}`);
  assert.equal(v4id, `$${hash.replace(/\+/g, '-').replace(/\//g, '_')}`);
  assert.match(v3id, /^\$[A-Za-z0-9+/]{43}$/);
  assert.match(v4id, /^\$[A-Za-z0-9_-]{43}$/);
  assert.ok(parseEventId(v3id, V('3')) && parseEventId(v4id, V('4')) && parseEventId(v4id, V('12')));
  assert.equal(parseEventId(v3id, V('4')), undefined);
  // Reference hashes (hence IDs) are the same for v4…v10 here: same redaction of a message.
  assert.equal(computeEventId(e, V('10')), v4id);

  const v1 = { ...message(1), event_id: '$abc:hs.example' };
  assert.equal(computeEventId(v1, V('1')), '$abc:hs.example');
  assert.equal(computeEventId(v1, V('2')), '$abc:hs.example');
  assert.throws(() => computeEventId(message(1), V('1')), TypeError);
});

test('event references: [id, {sha256}] pairs in v1–v2, plain IDs from v3', () => {
  const v1 = signEvent({ ...message(1), event_id: '$abc:hs.example' }, V('1'), 'hs.example', key.keyId, key.seed);
  assert.deepEqual(eventReference(v1, V('1')), ['$abc:hs.example', { sha256: encodeBase64(computeReferenceHash(v1, V('1'))) }]);
  const v3 = signEvent(message(1), V('3'), 'hs.example', key.keyId, key.seed);
  assert.equal(eventReference(v3, V('3')), computeEventId(v3, V('3')));
});

test('v12 room ID: "!" + URL-safe base64 of the create event reference hash', () => {
  const v12 = V('12');
  const create = signEvent(
    {
      sender: '@alice:hs.example',
      type: 'm.room.create',
      state_key: '',
      content: { room_version: '12', additional_creators: ['@bob:other.example'] },
      origin_server_ts: 1700000000000,
      depth: 1,
      prev_events: [],
      auth_events: [],
      hashes: {},
      signatures: {},
    },
    v12,
    'hs.example',
    key.keyId,
    key.seed,
  );
  // v11 redaction keeps every key of this create event (content included): the reference hash
  // is over the event minus signatures.
  const { signatures: _s, ...unsignedCreate } = create;
  const expected = '!' + createHash('sha256').update(canonicalJson(unsignedCreate)).digest('base64url');
  const roomId = computeRoomIdFromCreateEvent(create, v12);
  assert.equal(roomId, expected);
  assert.equal(roomId, '!' + computeEventId(create, v12).slice(1));
  assert.deepEqual(parseRoomId(roomId, v12), { opaque: roomId.slice(1) });
  assert.throws(() => computeRoomIdFromCreateEvent(create, V('11')), TypeError);
});

test('signEvent signs the redacted form; addEventSignature co-signs without touching hashes', () => {
  const v = V('11');
  const other = signingKeyFromSeed(new Uint8Array(32).fill(3), 'ed25519:o');
  const e = signEvent(message(5, { unsigned: { age: 1 } }), v, 'hs.example', key.keyId, key.seed);
  assert.deepEqual(e.unsigned, { age: 1 });
  assert.equal(verifyEventSignature(e, v, 'hs.example', key.keyId, key.publicKey), true);
  const cosigned = addEventSignature(e, v, 'other.example', other.keyId, other.seed);
  assert.deepEqual(cosigned.hashes, e.hashes);
  assert.equal(verifyEventSignature(cosigned, v, 'hs.example', key.keyId, key.publicKey), true);
  assert.equal(verifyEventSignature(cosigned, v, 'other.example', other.keyId, other.publicKey), true);
  // Editing non-protected content keeps the signature (it signs the redacted event) but breaks the hash.
  const edited = { ...cosigned, content: { body: 'changed' } };
  assert.equal(verifyEventSignature(edited, v, 'hs.example', key.keyId, key.publicKey), true);
  assert.equal(checkContentHash(edited, v), false);
  // Editing a protected key breaks the signature.
  assert.equal(verifyEventSignature({ ...cosigned, depth: 6 }, v, 'hs.example', key.keyId, key.publicKey), false);
});

test('v1–v5 hash events with non-canonical numbers; v6+ refuses to', () => {
  const e = message(1, { content: { body: 'x', n: 1.5 } });
  assert.ok(computeContentHash(e, V('5')).length === 32);
  assert.throws(() => computeContentHash(e, V('6')));
});
