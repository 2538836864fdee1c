import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keptContentKeys, redact } from '../../server/protocol/redaction.ts';
import { getRoomVersion, ROOM_VERSIONS } from '../../server/protocol/room-versions.ts';
import type { JsonObject } from '../../server/protocol/pdu-types.ts';

const V = (id: string) => getRoomVersion(id)!;
const ALL = [...ROOM_VERSIONS.keys()];

function ev(type: string, content: JsonObject, extra: JsonObject = {}): JsonObject {
  return {
    event_id: '$e:x',
    type,
    room_id: '!r:x',
    sender: '@u:x',
    state_key: '',
    content,
    hashes: { sha256: 'h' },
    signatures: { x: { 'ed25519:1': 's' } },
    depth: 4,
    prev_events: ['$p'],
    prev_state: [],
    auth_events: ['$a'],
    origin: 'x',
    origin_server_ts: 7,
    membership: 'join',
    unsigned: { age: 1 },
    redacts: '$target',
    not_a_real_key: 1,
    ...extra,
  };
}

const contentAfter = (id: string, type: string, content: JsonObject) => redact(ev(type, content), V(id)).content;

test('top-level keys: origin, membership, prev_state kept until v10 and dropped in v11', () => {
  const common = ['auth_events', 'content', 'depth', 'event_id', 'hashes', 'origin_server_ts', 'prev_events', 'room_id', 'sender', 'signatures', 'state_key', 'type'];
  for (const id of ALL) {
    const keys = Object.keys(redact(ev('m.room.message', {}), V(id))).sort();
    const expected = Number(id) >= 11 ? common : [...common, 'membership', 'origin', 'prev_state'].sort();
    assert.deepEqual(keys, expected, `v${id}`);
  }
});

test('unsigned, unknown keys and top-level redacts are removed in every version', () => {
  for (const id of ALL) {
    const r = redact(ev('m.room.redaction', {}), V(id));
    assert.equal(r.unsigned, undefined);
    assert.equal(r.not_a_real_key, undefined);
    assert.equal(r.redacts, undefined, `v${id}`);
  }
});

test('m.room.create keeps only creator before v11, all content from v11', () => {
  const content = { creator: '@u:x', room_version: '9', 'm.federate': false, predecessor: { room_id: '!o:x' } };
  for (const id of ALL) {
    assert.deepEqual(contentAfter(id, 'm.room.create', content), Number(id) >= 11 ? content : { creator: '@u:x' }, `v${id}`);
  }
});

test('m.room.member: join_authorised_via_users_server kept from v9; third_party_invite.signed from v11', () => {
  const content = {
    membership: 'join',
    displayname: 'U',
    join_authorised_via_users_server: '@a:x',
    third_party_invite: { display_name: 'e@mail', signed: { mxid: '@u:x', token: 't', signatures: {} } },
  };
  assert.deepEqual(contentAfter('8', 'm.room.member', content), { membership: 'join' });
  assert.deepEqual(contentAfter('9', 'm.room.member', content), { membership: 'join', join_authorised_via_users_server: '@a:x' });
  assert.deepEqual(contentAfter('10', 'm.room.member', content), { membership: 'join', join_authorised_via_users_server: '@a:x' });
  for (const id of ['11', '12']) {
    assert.deepEqual(contentAfter(id, 'm.room.member', content), {
      membership: 'join',
      join_authorised_via_users_server: '@a:x',
      third_party_invite: { signed: { mxid: '@u:x', token: 't', signatures: {} } },
    });
  }
  // Without `signed` the object stays, empty; a non-object third_party_invite is dropped.
  assert.deepEqual(contentAfter('11', 'm.room.member', { membership: 'invite', third_party_invite: { display_name: 'x' } }), {
    membership: 'invite',
    third_party_invite: {},
  });
  assert.deepEqual(contentAfter('11', 'm.room.member', { membership: 'invite', third_party_invite: 'x' }), { membership: 'invite' });
});

test('m.room.join_rules keeps allow from v8', () => {
  const content = { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!o:x' }], other: 1 };
  assert.deepEqual(contentAfter('7', 'm.room.join_rules', content), { join_rule: 'restricted' });
  for (const id of ['8', '9', '10', '11', '12']) {
    assert.deepEqual(contentAfter(id, 'm.room.join_rules', content), { join_rule: 'restricted', allow: content.allow }, `v${id}`);
  }
});

test('m.room.power_levels keeps invite from v11 only', () => {
  const content = {
    ban: 50, events: { 'm.room.name': 50 }, events_default: 0, kick: 50, redact: 50, state_default: 50,
    users: { '@u:x': 100 }, users_default: 0, invite: 0, notifications: { room: 50 }, historical: 100,
  };
  const { invite: _i, notifications: _n, historical: _h, ...pre11 } = content;
  for (const id of ALL) {
    assert.deepEqual(contentAfter(id, 'm.room.power_levels', content), Number(id) >= 11 ? { ...pre11, invite: 0 } : pre11, `v${id}`);
  }
});

test('m.room.aliases content kept in v1–v5 only', () => {
  for (const id of ALL) {
    assert.deepEqual(contentAfter(id, 'm.room.aliases', { aliases: ['#a:x'], x: 1 }), Number(id) <= 5 ? { aliases: ['#a:x'] } : {}, `v${id}`);
  }
});

test('m.room.redaction keeps content.redacts from v11', () => {
  for (const id of ALL) {
    assert.deepEqual(contentAfter(id, 'm.room.redaction', { redacts: '$t', reason: 'spam' }), Number(id) >= 11 ? { redacts: '$t' } : {}, `v${id}`);
  }
});

test('history visibility kept everywhere; other types lose all content', () => {
  for (const id of ALL) {
    assert.deepEqual(contentAfter(id, 'm.room.history_visibility', { history_visibility: 'shared', x: 1 }), { history_visibility: 'shared' });
    assert.deepEqual(contentAfter(id, 'm.room.message', { body: 'hi', msgtype: 'm.text' }), {});
    assert.deepEqual(contentAfter(id, 'm.room.name', { name: 'n' }), {});
  }
});

test('content is always an object after redaction; input is not modified', () => {
  const e = ev('m.room.member', { membership: 'join', displayname: 'x' });
  const before = JSON.stringify(e);
  assert.deepEqual(redact({ ...e, content: 'nope' }, V('10')).content, {});
  const { content: _c, ...noContent } = e;
  assert.deepEqual(redact(noContent, V('10')).content, {});
  redact(e, V('11'));
  assert.equal(JSON.stringify(e), before);
  // Inherited property names are not event types.
  assert.deepEqual(contentAfter('11', 'constructor', { a: 1 }), {});
});

test('keptContentKeys exposes the per-version lists', () => {
  assert.equal(keptContentKeys('m.room.create', V('11')), 'all');
  assert.deepEqual(keptContentKeys('m.room.create', V('10')), ['creator']);
  assert.deepEqual(keptContentKeys('m.room.message', V('12')), []);
});
