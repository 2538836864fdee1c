/**
 * Rule numbering per version, "Auth events selection", and the power-level helpers other
 * components use (getPowerLevel, getRequiredPowerLevel, parseLevel).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authEventsNeeded } from '../../../server/protocol/auth/auth-events.ts';
import { checkAuth, checkStateDependent } from '../../../server/protocol/auth/check.ts';
import { getNamedLevel, getPowerLevel, getRequiredPowerLevel, isRoomCreator, parseLevel } from '../../../server/protocol/auth/power-levels.ts';
import { ruleNumber } from '../../../server/protocol/auth/rules.ts';
import type { Pdu } from '../../../server/protocol/pdu-types.ts';
import { getRoomVersion, type RoomVersion } from '../../../server/protocol/room-versions.ts';

const V = (id: string): RoomVersion => getRoomVersion(id)!;

function pdu(type: string, sender: string, content: Pdu['content'], stateKey?: string): Pdu {
  return {
    type,
    sender,
    content,
    ...(stateKey !== undefined && { state_key: stateKey }),
    room_id: '!r:a.test',
    origin_server_ts: 0,
    depth: 1,
    prev_events: [],
    auth_events: [],
    hashes: { sha256: '' },
    signatures: {},
  };
}

describe('rule numbers follow each version’s text', () => {
  const table: Array<[string, Record<string, string>]> = [
    ['member.join.banned', { '1': '5.2.3', '5': '5.2.3', '6': '4.2.3', '7': '4.2.3', '8': '4.3.3', '11': '4.3.3', '12': '5.3.3' }],
    ['member.knock.joinRule', { '7': '4.6.1', '8': '4.7.1', '12': '5.7.1' }],
    ['member.unknown', { '1': '5.6', '6': '4.6', '7': '4.7', '8': '4.8', '12': '5.8' }],
    ['powerLevels.usersAdded', { '1': '10.7', '6': '9.7', '9': '9.7', '10': '9.9', '11': '9.9', '12': '10.10' }],
    ['powerLevels.allow', { '1': '10.8', '10': '9.10', '12': '10.11' }],
    ['powerLevels.creators', { '12': '10.4' }],
    ['redaction.sameDomain', { '1': '11.2', '2': '11.2' }],
    ['allow', { '1': '12', '3': '11', '6': '10', '11': '10', '12': '11' }],
    ['aliases.wrongDomain', { '1': '4.2', '5': '4.2' }],
    ['create.noCreator', { '1': '1.4', '10': '1.4' }],
    ['create.additionalCreators', { '12': '1.4' }],
    ['authEvents.roomIdMismatch', { '1': '2.5', '11': '2.5', '12': '3.4' }],
    ['federate', { '1': '3', '11': '3', '12': '4' }],
    ['member.joinAuthorisedSignature', { '8': '4.2', '12': '5.2' }],
  ];
  for (const [id, byVersion] of table) {
    it(id, () => {
      for (const [v, n] of Object.entries(byVersion)) assert.equal(ruleNumber(V(v), id), n, `v${v}`);
    });
  }
  it('rules a version does not have have no number', () => {
    assert.equal(ruleNumber(V('6'), 'aliases.allow'), '?');
    assert.equal(ruleNumber(V('3'), 'redaction.otherwise'), '?');
    assert.equal(ruleNumber(V('6'), 'member.knock.allow'), '?');
  });
});

describe('authEventsNeeded (server-server-api "Auth events selection")', () => {
  const keys = (ev: Pdu, v: string) => authEventsNeeded(ev, V(v)).map(([t, s]) => `${t}|${s}`);
  it('the create event needs nothing', () => {
    assert.deepEqual(keys(pdu('m.room.create', '@a:a.test', {}, ''), '12'), []);
  });
  it('a message: create (not in v12), power levels, sender membership', () => {
    const msg = pdu('m.room.message', '@a:a.test', { body: 'x' });
    assert.deepEqual(keys(msg, '11'), ['m.room.create|', 'm.room.power_levels|', 'm.room.member|@a:a.test']);
    assert.deepEqual(keys(msg, '12'), ['m.room.power_levels|', 'm.room.member|@a:a.test']);
  });
  it('a restricted join also needs the authorising user’s membership (v8+ only)', () => {
    const join = pdu('m.room.member', '@b:b.test', { membership: 'join', join_authorised_via_users_server: '@a:a.test' }, '@b:b.test');
    assert.deepEqual(keys(join, '8'), ['m.room.create|', 'm.room.power_levels|', 'm.room.member|@b:b.test', 'm.room.join_rules|', 'm.room.member|@a:a.test']);
    assert.deepEqual(keys(join, '7'), ['m.room.create|', 'm.room.power_levels|', 'm.room.member|@b:b.test', 'm.room.join_rules|']);
  });
  it('a third-party invite needs the invite event named by its token; a kick needs no join rules', () => {
    const inv = pdu('m.room.member', '@a:a.test', { membership: 'invite', third_party_invite: { signed: { token: 'tok', mxid: '@b:b.test' } } }, '@b:b.test');
    assert.deepEqual(keys(inv, '12'), ['m.room.power_levels|', 'm.room.member|@a:a.test', 'm.room.member|@b:b.test', 'm.room.join_rules|', 'm.room.third_party_invite|tok']);
    const kick = pdu('m.room.member', '@a:a.test', { membership: 'leave' }, '@b:b.test');
    assert.deepEqual(keys(kick, '12'), ['m.room.power_levels|', 'm.room.member|@a:a.test', 'm.room.member|@b:b.test']);
  });
});

describe('power-level helpers', () => {
  it('parseLevel: strings and floats before v10, integers only since', () => {
    assert.equal(parseLevel(' +0100 ', false), 100);
    assert.equal(parseLevel('-5', false), -5);
    assert.equal(parseLevel(5.114698e4, false), 51146);
    assert.equal(parseLevel('1.5', false), undefined);
    assert.equal(parseLevel(Infinity as number, false), undefined);
    assert.equal(parseLevel('100', true), undefined);
    assert.equal(parseLevel(100, true), 100);
    assert.equal(parseLevel(true, false), undefined);
  });
  it('getPowerLevel: users, users_default, creator without power levels, v12 creators infinite', () => {
    const create11 = pdu('m.room.create', '@a:a.test', {}, '');
    const create10 = pdu('m.room.create', '@a:a.test', { creator: '@c:a.test' }, '');
    const create12 = pdu('m.room.create', '@a:a.test', { additional_creators: ['@x:x.test'] }, '');
    const pl = pdu('m.room.power_levels', '@a:a.test', { users: { '@b:b.test': '42' }, users_default: 7 }, '');
    assert.equal(getPowerLevel('@b:b.test', pl, create11, V('9')), 42);
    assert.equal(getPowerLevel('@b:b.test', pl, create11, V('10')), 7, 'a string is no level in v10');
    assert.equal(getPowerLevel('@z:z.test', pl, create11, V('11')), 7);
    assert.equal(getPowerLevel('@a:a.test', undefined, create11, V('11')), 100);
    assert.equal(getPowerLevel('@a:a.test', undefined, create10, V('10')), 0, 'v10: content.creator is the creator');
    assert.equal(getPowerLevel('@c:a.test', undefined, create10, V('10')), 100);
    assert.equal(getPowerLevel('@a:a.test', pl, create12, V('12')), Infinity);
    assert.equal(getPowerLevel('@x:x.test', pl, create12, V('12')), Infinity);
    assert.equal(getPowerLevel('@x:x.test', pl, create12, V('11')), 7, 'additional_creators mean nothing before v12');
    assert.equal(isRoomCreator('@x:x.test', create12, V('12')), true);
    const proto = pdu('m.room.power_levels', '@a:a.test', { users: {} }, '');
    assert.equal(getPowerLevel('constructor', proto, create11, V('11')), 0, 'own properties only');
  });
  it('getRequiredPowerLevel and named levels use the spec defaults', () => {
    assert.equal(getRequiredPowerLevel('m.room.topic', true, undefined), 50);
    assert.equal(getRequiredPowerLevel('m.room.message', false, undefined), 0);
    const pl = pdu('m.room.power_levels', '@a:a.test', { events: { 'm.room.topic': 10 }, state_default: 20, events_default: 5, kick: 3 }, '');
    assert.equal(getRequiredPowerLevel('m.room.topic', true, pl), 10);
    assert.equal(getRequiredPowerLevel('m.room.name', true, pl), 20);
    assert.equal(getRequiredPowerLevel('m.room.message', false, pl), 5);
    assert.equal(getNamedLevel('kick', pl), 3);
    assert.equal(getNamedLevel('ban', pl), 50);
    assert.equal(getNamedLevel('invite', undefined), 0);
  });
});

describe('malformed events are rejected, never thrown on', () => {
  const create = { ...pdu('m.room.create', '@a:a.test', { creator: '@a:a.test' }, ''), event_id: '$c:a.test', room_id: '!r:a.test' };
  const state = new Map([['m.room.create\u0000', create]]);
  const bad: unknown[] = [
    { ...pdu('m.room.message', '@a:a.test', {}), content: null },
    { ...pdu('m.room.member', '@a:a.test', {}, '@a:a.test'), content: 'join' },
    { ...pdu('m.room.topic', '@a:a.test', {}), state_key: 5 },
    { ...pdu('m.room.topic', '@a:a.test', {}), sender: undefined },
  ];
  for (const [i, ev] of bad.entries()) {
    it(`case ${i + 1}`, () => {
      for (const v of ['1', '12']) {
        const r = checkAuth(ev as Pdu, state, V(v));
        assert.equal(r.ok, false);
        assert.equal(r.ok === false && r.ruleId, 'format');
        assert.equal(checkStateDependent(ev as Pdu, state, V(v)).ok, false);
      }
    });
  }
  it('power levels with null users / events are rejected by the users rule', () => {
    const join = { ...pdu('m.room.member', '@a:a.test', { membership: 'join' }, '@a:a.test'), event_id: '$j:a.test' };
    const withMember = new Map([...state, ['m.room.member\u0000@a:a.test', join]]);
    const pl = pdu('m.room.power_levels', '@a:a.test', { users: null, events: null }, '');
    const r = checkAuth(pl, withMember, V('1'));
    assert.equal(r.ok === false && r.ruleId, 'powerLevels.users');
  });
});
