import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkContentHash, computeEventId, verifyEventSignature } from '../../server/protocol/hashing.ts';
import { parseUserId } from '../../server/protocol/identifiers.ts';
import { ROOM_VERSIONS } from '../../server/protocol/room-versions.ts';
import type { EventReference } from '../../server/protocol/pdu-types.ts';
import { makeRoom, stateKeyOf, TEST_KEY_ID, testSigningKey, type TestEvent } from '../helpers/events.ts';

const ids = (refs: EventReference[]) => refs.map((r) => (typeof r === 'string' ? r : r[0]));

test('every built event is hashed, signed by its sender\'s server and has a matching ID', () => {
  for (const [id, version] of ROOM_VERSIONS) {
    const room = makeRoom('@alice:a.example', { version: id });
    room.join('@bob:b.example');
    room.message('@bob:b.example', 'hi');
    for (const e of room.events) {
      const server = parseUserId(e.pdu.sender)!.serverName;
      assert.equal(checkContentHash(e.pdu, version), true, `v${id}`);
      assert.equal(verifyEventSignature(e.pdu, version, server, TEST_KEY_ID, testSigningKey(server).publicKey), true, `v${id}`);
      assert.equal(computeEventId(e.pdu, version), e.eventId);
      assert.equal(e.pdu.room_id, e.pdu.type === 'm.room.create' && id === '12' ? undefined : room.roomId);
    }
  }
});

test('room IDs: v12 derived from the create event, earlier versions server-assigned', () => {
  const v12 = makeRoom('@alice:a.example', { version: '12' });
  assert.equal(v12.roomId, '!' + v12.events[0]!.eventId.slice(1));
  const v11 = makeRoom('@alice:a.example', { version: '11', serverName: 'rooms.example' });
  assert.match(v11.roomId, /^!room\d+:rooms\.example$/);
});

test('create content per version and default power levels', () => {
  const v10 = makeRoom('@alice:a.example', { version: '10' });
  assert.deepEqual(v10.events[0]!.pdu.content, { creator: '@alice:a.example', room_version: '10' });
  assert.deepEqual(v10.stateEvent('m.room.power_levels')!.pdu.content.users, { '@alice:a.example': 100 });
  const v12 = makeRoom('@alice:a.example', { version: '12', createContent: { additional_creators: ['@bob:b.example'] } });
  assert.deepEqual(v12.events[0]!.pdu.content, { room_version: '12', additional_creators: ['@bob:b.example'] });
  assert.deepEqual(v12.stateEvent('m.room.power_levels')!.pdu.content.users, {}); // creators are not listed in v12
  assert.equal(v12.stateEvent('m.room.join_rules')!.pdu.content.join_rule, 'public');
  assert.equal(makeRoom('@a:a.example', { bare: true }).events.length, 1);
});

test('auth events follow "auth events selection"; prev events chain; depth grows', () => {
  for (const version of ['10', '12']) {
    const room = makeRoom('@alice:a.example', { version, joinRule: 'invite' });
    const [create, aliceJoin, pl, jr] = room.events as [TestEvent, TestEvent, TestEvent, TestEvent];
    const withCreate = (xs: string[]) => (version === '12' ? xs : [create.eventId, ...xs]);
    assert.deepEqual(ids(aliceJoin.pdu.auth_events), withCreate([]));
    assert.deepEqual(ids(pl.pdu.auth_events), withCreate([aliceJoin.eventId]));
    const invite = room.member('@alice:a.example', '@bob:b.example', 'invite');
    assert.deepEqual(ids(invite.pdu.auth_events), withCreate([pl.eventId, aliceJoin.eventId, jr.eventId]));
    const bobJoin = room.join('@bob:b.example');
    assert.deepEqual(ids(bobJoin.pdu.auth_events), withCreate([pl.eventId, invite.eventId, jr.eventId]));
    const msg = room.message('@bob:b.example', 'hi');
    assert.deepEqual(ids(msg.pdu.auth_events), withCreate([pl.eventId, bobJoin.eventId]));
    assert.deepEqual(ids(msg.pdu.prev_events), [bobJoin.eventId]);
    assert.equal(msg.pdu.depth, bobJoin.pdu.depth + 1);
    assert.equal(create.pdu.depth, 1);
    assert.deepEqual(create.pdu.auth_events, []);
    assert.deepEqual(create.pdu.prev_events, []);
  }
});

test('restricted joins cite the authorising user\'s membership (v8+ only)', () => {
  for (const [version, expectCited] of [['9', true], ['7', false]] as const) {
    const room = makeRoom('@alice:a.example', { version });
    const aliceJoin = room.events[1]!;
    const join = room.join('@bob:b.example', { join_authorised_via_users_server: '@alice:a.example' });
    assert.equal(ids(join.pdu.auth_events).includes(aliceJoin.eventId), expectCited, `v${version}`);
  }
});

test('v1–v2 rooms use [event_id, {sha256}] references and server-chosen event IDs', () => {
  const room = makeRoom('@alice:a.example', { version: '1' });
  const msg = room.message('@alice:a.example', 'x');
  assert.match(msg.eventId, /^\$e\d+:a\.example$/);
  const [prevId, prevHash] = msg.pdu.prev_events[0] as [string, { sha256: string }];
  assert.equal(prevId, room.events.at(-2)!.eventId);
  assert.match(prevHash.sha256, /^[A-Za-z0-9+/]{43}$/);
});

test('state() tracks state per fork; extremities list events without children', () => {
  const room = makeRoom('@alice:a.example', { version: '11' });
  const base = room.events.at(-1)!.eventId;
  const a = room.event('m.room.name', { name: 'A' }, { state_key: '', prev: [base] });
  const b = room.event('m.room.topic', { topic: 'B' }, { state_key: '', prev: [base] });
  assert.deepEqual(room.extremities().sort(), [a.eventId, b.eventId].sort());
  assert.equal(room.state([a.eventId]).get(stateKeyOf('m.room.name', '')), a.eventId);
  assert.equal(room.state([a.eventId]).get(stateKeyOf('m.room.topic', '')), undefined);
  const merge = room.message('@alice:a.example', 'merge');
  assert.deepEqual(ids(merge.pdu.prev_events).sort(), [a.eventId, b.eventId].sort());
  assert.equal(room.state().get(stateKeyOf('m.room.topic', '')), b.eventId);
  assert.equal(room.state().get(stateKeyOf('m.room.member', '@alice:a.example')), room.events[1]!.eventId);
});

test('redactions: top-level redacts before v11, content.redacts from v11', () => {
  for (const [version, inContent] of [['10', false], ['11', true]] as const) {
    const room = makeRoom('@alice:a.example', { version });
    const msg = room.message('@alice:a.example', 'oops');
    const red = room.event('m.room.redaction', {}, { redacts: msg.eventId });
    assert.equal(inContent ? red.pdu.content.redacts : red.pdu.redacts, msg.eventId);
    assert.equal(inContent ? red.pdu.redacts : red.pdu.content.redacts, undefined);
  }
});

test('build() does not add; explicit ts, auth and extra keys are honoured', () => {
  const room = makeRoom('@alice:a.example');
  const n = room.events.length;
  const e = room.build('m.room.message', { body: 'x' }, { ts: 42, auth: [], extra: { unsigned: { age: 1 } } });
  assert.equal(room.events.length, n);
  assert.equal(e.pdu.origin_server_ts, 42);
  assert.deepEqual(e.pdu.auth_events, []);
  assert.deepEqual(e.pdu.unsigned, { age: 1 });
  assert.throws(() => room.get(e.eventId));
  room.add(e);
  assert.equal(room.get(e.eventId), e);
  assert.throws(() => room.add(e), /duplicate/);
});

test('deterministic: the same script gives the same event IDs', () => {
  const script = () => {
    const r = makeRoom('@alice:a.example', { version: '12' });
    r.join('@bob:b.example');
    return r.events.map((e) => e.eventId);
  };
  assert.deepEqual(script(), script());
});
