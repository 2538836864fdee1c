import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../../server/protocol/canonical-json.ts';
import {
  assertPdu,
  checkCreateEvent,
  checkPdu,
  checkPowerLevelsContent,
  MAX_PDU_BYTES,
  parsePowerLevelValue,
  PduError,
  type PduErrorCode,
} from '../../server/protocol/pdu.ts';
import { getRoomVersion, ROOM_VERSIONS } from '../../server/protocol/room-versions.ts';
import type { JsonObject } from '../../server/protocol/pdu-types.ts';
import { makeRoom } from '../helpers/events.ts';

const V = (id: string) => getRoomVersion(id)!;

/** A valid signed message event in a fresh room of `version`, as a plain JSON object. */
function validEvent(version: string): JsonObject {
  const room = makeRoom('@alice:hs.example', { version });
  return structuredClone(room.message('@alice:hs.example', 'hi').pdu) as JsonObject;
}

function code(value: unknown, version: string): PduErrorCode | undefined {
  return checkPdu(value, V(version))?.code;
}

test('events built by the test helper are valid in every room version', () => {
  for (const id of ROOM_VERSIONS.keys()) {
    const room = makeRoom('@alice:hs.example', { version: id });
    room.join('@bob:other.example');
    room.message('@bob:other.example', 'hello');
    for (const e of room.events) assert.equal(checkPdu(e.pdu, V(id)), undefined, `v${id} ${e.pdu.type}`);
  }
});

test('size: 65536 bytes of canonical JSON is the limit', () => {
  const e = validEvent('11');
  const base = Buffer.byteLength(canonicalJson({ ...e, content: { ...e.content as JsonObject, pad: '' } }));
  const pad = 'x'.repeat(MAX_PDU_BYTES - base);
  const exact: JsonObject = { ...e, content: { ...(e.content as JsonObject), pad } };
  assert.equal(Buffer.byteLength(canonicalJson(exact)), MAX_PDU_BYTES);
  assert.equal(checkPdu(exact, V('11')), undefined);
  const over = { ...e, content: { ...(e.content as JsonObject), pad: pad + 'x' } };
  const err = checkPdu(over, V('11'));
  assert.equal(err?.code, 'too_large');
  assert.equal(err?.errcode, 'M_TOO_LARGE');
  // Signatures count towards the size too.
  const sigs = { ...(exact.signatures as JsonObject), 'more.example': { 'ed25519:x': 'sig' } };
  assert.equal(code({ ...exact, signatures: sigs }, '11'), 'too_large');
});

test('per-field limits: sender, room_id, event_id, state_key, type at most 255 bytes', () => {
  const e = validEvent('10');
  const long = 'a'.repeat(256);
  for (const [field, value] of [
    ['sender', `@${long}:hs.example`],
    ['room_id', `!${long}:hs.example`],
    ['event_id', `$${long}`],
    ['state_key', long],
    ['type', long],
    ['state_key', 'é'.repeat(128)], // 256 bytes in 128 characters
  ] as const) {
    const err = checkPdu({ ...e, [field]: value }, V('10'));
    assert.equal(err?.code, 'field_too_long', field);
    assert.equal(err?.field, field);
  }
  assert.equal(checkPdu({ ...e, state_key: 'a'.repeat(255), type: 'b'.repeat(255) }, V('10')), undefined);
});

test('required fields and their types', () => {
  const e = validEvent('10');
  for (const field of ['type', 'sender', 'content', 'origin_server_ts', 'depth', 'hashes', 'signatures', 'room_id', 'prev_events', 'auth_events']) {
    const { [field]: _omit, ...rest } = e;
    assert.equal(code(rest, '10'), 'missing_field', field);
  }
  const wrong: [string, unknown][] = [
    ['type', 5], ['sender', null], ['content', []], ['origin_server_ts', '1'], ['depth', '1'], ['hashes', { sha256: 1 }],
    ['signatures', { 'hs.example': 'x' }], ['state_key', 3], ['unsigned', 'x'], ['redacts', 5], ['room_id', 7], ['prev_events', {}],
  ];
  for (const [field, value] of wrong) assert.equal(code({ ...e, [field]: value }, '10'), 'wrong_type', field);
  assert.equal(code({ ...validEvent('5'), depth: 1.5 }, '5'), 'wrong_type'); // v6+ reports it as bad_json first
  assert.equal(code(null, '10'), 'not_object');
  assert.equal(code([e], '10'), 'not_object');
  assert.equal(code({ ...e, sender: 'alice' }, '10'), 'bad_identifier');
  assert.equal(code({ ...e, room_id: 'room' }, '10'), 'bad_identifier');
  // Historical user IDs must still be accepted in events.
  assert.equal(code({ ...e, sender: '@Old User:hs.example' }, '10'), undefined);
});

test('canonical JSON is enforced from v6, not before', () => {
  const e5 = validEvent('5');
  assert.equal(code({ ...e5, content: { n: 1.5 } }, '5'), undefined);
  assert.equal(code({ ...e5, content: { n: 2 ** 60 } }, '5'), undefined);
  const e6 = validEvent('6');
  const err = checkPdu({ ...e6, content: { n: 1.5 } }, V('6'));
  assert.equal(err?.code, 'bad_json');
  assert.equal(err?.field, 'content.n');
  assert.equal(code({ ...e6, depth: 2 ** 53 }, '6'), 'bad_json');
  assert.equal(code({ ...e6, content: { s: '\ud800' } }, '3'), 'bad_json'); // never encodable
});

test('prev_events/auth_events: hash pairs in v1–v2, event IDs of the version format from v3, counts ≤20/≤10', () => {
  const e1 = validEvent('1');
  assert.equal(code({ ...e1, prev_events: ['$a:hs.example'] }, '1'), 'bad_reference');
  assert.equal(code({ ...e1, prev_events: [['$a:hs.example']] }, '1'), 'bad_reference');
  assert.equal(code({ ...e1, prev_events: [['$a:hs.example', 'hash']] }, '1'), 'bad_reference');
  assert.equal(code({ ...e1, auth_events: [['$a:hs.example', { sha256: 5 }]] }, '1'), 'bad_reference');
  assert.equal(code({ ...e1, auth_events: [['$a:hs.example', { sha256: 'abc' }]] }, '1'), undefined);
  const e3 = validEvent('3');
  const v3id = '$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk';
  const v4id = '$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg';
  assert.equal(code({ ...e3, prev_events: [['$a:hs.example', { sha256: 'x' }]] }, '3'), 'bad_reference');
  assert.equal(code({ ...e3, prev_events: [v3id] }, '3'), undefined);
  assert.equal(code({ ...e3, prev_events: [v4id] }, '3'), 'bad_reference');
  const e4 = validEvent('4');
  assert.equal(code({ ...e4, auth_events: [v4id] }, '4'), undefined);
  assert.equal(code({ ...e4, auth_events: [v3id] }, '4'), 'bad_reference');
  assert.equal(code({ ...e4, auth_events: ['$a:hs.example'] }, '4'), 'bad_reference');

  assert.equal(code({ ...e4, prev_events: Array(20).fill(v4id) }, '4'), undefined);
  assert.equal(code({ ...e4, prev_events: Array(21).fill(v4id) }, '4'), 'too_many_prev_events');
  assert.equal(code({ ...e4, auth_events: Array(10).fill(v4id) }, '4'), undefined);
  assert.equal(code({ ...e4, auth_events: Array(11).fill(v4id) }, '4'), 'too_many_auth_events');
  assert.equal(code({ ...e1, prev_events: Array(21).fill(['$a:hs.example', { sha256: 'x' }]) }, '1'), 'too_many_prev_events');
});

test('v1–v2 need an origin-assigned $opaque:domain event_id', () => {
  const e = validEvent('2');
  const { event_id: _id, ...rest } = e;
  assert.equal(code(rest, '2'), 'missing_field');
  assert.equal(code({ ...e, event_id: '$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg' }, '2'), 'bad_identifier');
});

test('v12: create events have no room_id; other events need a domain-less room ID', () => {
  const room = makeRoom('@alice:hs.example', { version: '12' });
  const create = room.events[0]!.pdu as JsonObject;
  const msg = room.message('@alice:hs.example', 'x').pdu as JsonObject;
  assert.equal(code(create, '12'), undefined);
  assert.equal(code({ ...create, room_id: room.roomId }, '12'), 'unexpected_field');
  const { room_id: _r, ...noRoom } = msg;
  assert.equal(code(noRoom, '12'), 'missing_field');
  assert.equal(code({ ...msg, room_id: '!abc:hs.example' }, '12'), 'bad_identifier');
  assert.equal(code({ ...msg, room_id: room.roomId }, '11'), 'bad_identifier'); // v11 wants a domain
});

test('assertPdu throws a PduError with a Matrix errcode', () => {
  assert.throws(() => assertPdu({}, V('10')), (e: unknown) => e instanceof PduError && e.errcode === 'M_BAD_JSON' && e.field === 'type');
  assertPdu(validEvent('10'), V('10'));
});

test('power levels: integers only from v10; strings before v10; floats only v1–v5', () => {
  assert.equal(parsePowerLevelValue(50, V('10')), 50);
  assert.equal(parsePowerLevelValue('50', V('10')), undefined);
  assert.equal(parsePowerLevelValue(' +0050 ', V('9')), 50);
  assert.equal(parsePowerLevelValue('-10', V('1')), -10);
  assert.equal(parsePowerLevelValue('5.5', V('9')), undefined);
  assert.equal(parsePowerLevelValue('', V('9')), undefined);
  assert.equal(parsePowerLevelValue(50.57, V('5')), 50);
  assert.equal(parsePowerLevelValue(50.57, V('6')), undefined);
  assert.equal(parsePowerLevelValue(true, V('1')), undefined);

  const stringy = { ban: '50', events: { 'm.room.name': '50' }, users: { '@a:x.org': '100' } };
  assert.equal(checkPowerLevelsContent(stringy, V('9')), undefined);
  assert.match(checkPowerLevelsContent(stringy, V('10'))!, /ban must be an integer/);
  assert.match(checkPowerLevelsContent({ events: { 'm.room.name': '50' } }, V('10'))!, /events/);
  assert.match(checkPowerLevelsContent({ notifications: { room: 50.5 } }, V('10'))!, /notifications/);
  assert.match(checkPowerLevelsContent({ users: { '@a:x.org': '100' } }, V('10'))!, /users/);
  assert.match(checkPowerLevelsContent({ users: { 'not-a-user': 100 } }, V('1'))!, /not a user ID/);
  assert.match(checkPowerLevelsContent({ users: [] }, V('1'))!, /object/);
  assert.equal(checkPowerLevelsContent({ users: { '@a:x.org': 100 }, invite: 0 }, V('12'), ['@b:x.org']), undefined);
  assert.match(checkPowerLevelsContent({ users: { '@b:x.org': 100 } }, V('12'), ['@b:x.org'])!, /creator/);
  assert.equal(checkPowerLevelsContent({ users: { '@b:x.org': 100 } }, V('11'), ['@b:x.org']), undefined);
});

test('v12 create event: additional_creators must be valid user IDs', () => {
  const base = { type: 'm.room.create', sender: '@a:x.org', content: { room_version: '12' } };
  assert.equal(checkCreateEvent(base, V('12')), undefined);
  assert.equal(checkCreateEvent({ ...base, content: { additional_creators: ['@b:y.org', '@Old:y.org'] } }, V('12')), undefined);
  assert.match(checkCreateEvent({ ...base, content: { additional_creators: '@b:y.org' } }, V('12'))!, /array/);
  assert.match(checkCreateEvent({ ...base, content: { additional_creators: ['b'] } }, V('12'))!, /not a user ID/);
  assert.match(checkCreateEvent({ ...base, content: { additional_creators: [5] } }, V('12'))!, /not a user ID/);
  assert.match(checkCreateEvent({ ...base, room_id: '!x' }, V('12'))!, /room_id/);
  assert.equal(checkCreateEvent({ ...base, content: { additional_creators: 'junk' } }, V('11')), undefined);
});
