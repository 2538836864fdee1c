/**
 * Cases for the create rules, the auth_events rules, v12's room-ID rule, m.federate, pre-v6 aliases
 * and the generic rules (sender joined, required power level, user-owned state keys, third-party invites).
 */
import { checkAuthEventsList } from '../../../server/protocol/auth/auth-events.ts';
import { checkAuth } from '../../../server/protocol/auth/check.ts';
import { ALICE, BOB, CAROL, EVE, allow, reject, withId, type AuthCase } from './harness.ts';

const createContent = (v: { implicitCreator: boolean }, extra = {}) => ({ ...(v.implicitCreator ? {} : { creator: ALICE }), ...extra });

export const roomCases: AuthCase[] = [
  // --- rule 1: m.room.create --------------------------------------------------------------------
  {
    name: 'create: the room’s own create event',
    run: (h) => checkAuth(h.room({ bare: true }).events[0]!.pdu, new Map(), h.v),
    expect: allow('create.allow'),
  },
  {
    name: 'create: with prev_events',
    run: (h) => {
      const room = h.room({ bare: true });
      const ev = room.build('m.room.create', createContent(h.v), { state_key: '', prev: [room.events[0]!.eventId] });
      return checkAuth(ev.pdu, new Map(), h.v);
    },
    expect: reject('create.prevEvents'),
  },
  {
    name: 'create: room_id domain differs from the sender’s (v1–v11)',
    versions: (v) => !v.roomIdFromCreateEvent,
    run: (h) => {
      const room = h.room({ bare: true });
      const ev = room.build('m.room.create', createContent(h.v, { creator: BOB }), { sender: BOB, state_key: '', prev: [] });
      return checkAuth(ev.pdu, new Map(), h.v);
    },
    expect: reject('create.roomDomain'),
  },
  {
    name: 'create: has a room_id (v12)',
    versions: (v) => v.roomIdFromCreateEvent,
    run: (h) => {
      const room = h.room({ bare: true });
      const ev = room.build('m.room.create', {}, { state_key: '', prev: [], extra: { room_id: '!abc:a.test' } });
      return checkAuth(ev.pdu, new Map(), h.v);
    },
    expect: reject('create.hasRoomId'),
  },
  {
    name: 'create: unknown room_version',
    run: (h) => {
      const room = h.room({ bare: true });
      return checkAuth(room.build('m.room.create', createContent(h.v, { room_version: '999' }), { state_key: '', prev: [] }).pdu, new Map(), h.v);
    },
    expect: reject('create.roomVersion'),
  },
  {
    name: 'create: no creator — required until v10, gone in v11',
    run: (h) => {
      const room = h.room({ bare: true });
      return checkAuth(room.build('m.room.create', { room_version: h.v.id }, { state_key: '', prev: [] }).pdu, new Map(), h.v);
    },
    expect: (v) => (v.implicitCreator ? allow('create.allow') : reject('create.noCreator')),
  },
  {
    name: 'create: additional_creators must be user IDs (v12)',
    versions: (v) => v.privilegedCreators,
    run: (h) => {
      const room = h.room({ bare: true });
      const ev = room.build('m.room.create', { additional_creators: [BOB, 'bob'] }, { state_key: '', prev: [] });
      return checkAuth(ev.pdu, new Map(), h.v);
    },
    expect: reject('create.additionalCreators'),
  },
  {
    name: 'create: valid additional_creators (v12)',
    versions: (v) => v.privilegedCreators,
    run: (h) => checkAuth(h.room({ bare: true, createContent: { additional_creators: [BOB] } }).events[0]!.pdu, new Map(), h.v),
    expect: allow('create.allow'),
  },

  // --- v12 rule 2: the room ID is the create event's ID ------------------------------------------
  {
    name: 'room ID: create event of another room (v12)',
    versions: (v) => v.roomIdFromCreateEvent,
    run: (h) => {
      const room = h.room();
      const other = h.room({ startTs: 42 }); // a different create event, so a different room
      const state = h.stateMap(room);
      state.set('m.room.create\u0000', withId(other.events[0]!));
      return checkAuth(room.build('m.room.message', { body: 'hi' }).pdu, state, h.v);
    },
    expect: reject('roomIdIsCreate'),
  },
  {
    name: 'no create event available',
    run: (h) => {
      const room = h.room();
      const state = h.stateMap(room);
      state.delete('m.room.create\u0000');
      return checkAuth(room.build('m.room.message', { body: 'hi' }).pdu, state, h.v);
    },
    expect: (v) => (v.roomIdFromCreateEvent ? reject('roomIdIsCreate') : reject('authEvents.noCreate')),
  },

  // --- auth_events list rules -------------------------------------------------------------------
  {
    name: 'auth events: duplicate power levels',
    run: (h) => {
      const room = h.room();
      const list = [...h.stateMap(room).values()].filter((e) => e.type !== 'm.room.join_rules' && e.state_key !== BOB);
      const pl = list.find((e) => e.type === 'm.room.power_levels')!;
      return checkAuthEventsList(room.build('m.room.message', { body: 'x' }).pdu, [...list, pl], h.v);
    },
    expect: reject('authEvents.duplicate'),
  },
  {
    name: 'auth events: join rules are not selected for a message',
    run: (h) => {
      const room = h.room();
      const list = [...h.stateMap(room).values()].filter((e) => h.v.roomIdFromCreateEvent ? e.type !== 'm.room.create' : true);
      return checkAuthEventsList(room.build('m.room.message', { body: 'x' }).pdu, list, h.v);
    },
    expect: reject('authEvents.unexpected'),
  },
  {
    name: 'auth events: the create event is not selected in v12',
    versions: (v) => v.roomIdFromCreateEvent,
    run: (h) => {
      const room = h.room();
      const list = [...h.stateMap(room).values()].filter((e) => e.type !== 'm.room.join_rules');
      return checkAuthEventsList(room.build('m.room.message', { body: 'x' }).pdu, list, h.v);
    },
    expect: reject('authEvents.unexpected'),
  },
  {
    name: 'auth events: a rejected power-levels event',
    run: (h) => {
      const room = h.room();
      const list = [...h.stateMap(room).values()].filter((e) => e.type !== 'm.room.join_rules' && !(h.v.roomIdFromCreateEvent && e.type === 'm.room.create'));
      const pl = list.find((e) => e.type === 'm.room.power_levels')!;
      return checkAuthEventsList(room.build('m.room.message', { body: 'x' }).pdu, list, h.v, { isRejected: (id) => id === pl.event_id });
    },
    expect: reject('authEvents.rejected'),
  },
  {
    name: 'auth events: no create event (v1–v11)',
    versions: (v) => !v.roomIdFromCreateEvent,
    run: (h) => {
      const room = h.room();
      const list = [...h.stateMap(room).values()].filter((e) => e.type === 'm.room.power_levels');
      return checkAuthEventsList(room.build('m.room.message', { body: 'x' }).pdu, list, h.v);
    },
    expect: reject('authEvents.noCreate'),
  },
  {
    name: 'auth events: power levels of another room',
    run: (h) => {
      const room = h.room();
      const other = h.stateMap(h.room({ startTs: 42 }));
      const list = [...h.stateMap(room).values()]
        .filter((e) => e.type === 'm.room.create' && !h.v.roomIdFromCreateEvent)
        .concat([other.get('m.room.power_levels\u0000')!]);
      return checkAuthEventsList(room.build('m.room.message', { body: 'x' }).pdu, list, h.v);
    },
    expect: reject('authEvents.roomIdMismatch'),
  },

  // --- m.federate -------------------------------------------------------------------------------
  {
    name: 'm.federate false: a user of another server cannot join',
    run: (h) => h.member(h.room({ createContent: { 'm.federate': false } }), BOB, BOB, 'join'),
    expect: reject('federate'),
  },
  {
    name: 'm.federate false: a user of the creator’s server joins',
    run: (h) => h.member(h.room({ createContent: { 'm.federate': false } }), CAROL, CAROL, 'join'),
    expect: allow('member.join.public'),
  },

  // --- aliases (v1–v5 only) ---------------------------------------------------------------------
  {
    name: 'aliases: a non-member publishes aliases for their own server',
    run: (h) => h.check(h.room(), 'm.room.aliases', { aliases: ['#x:e.test'] }, { sender: EVE, state_key: 'e.test' }),
    expect: (v) => (v.specialCaseAliasesAuth ? allow('aliases.allow') : reject('senderNotJoined')),
  },
  {
    name: 'aliases: state_key is another server',
    versions: (v) => v.specialCaseAliasesAuth,
    run: (h) => h.check(h.room(), 'm.room.aliases', { aliases: [] }, { sender: EVE, state_key: 'a.test' }),
    expect: reject('aliases.wrongDomain'),
  },
  {
    name: 'aliases: no state_key',
    versions: (v) => v.specialCaseAliasesAuth,
    run: (h) => h.check(h.room(), 'm.room.aliases', { aliases: [] }, { sender: EVE }),
    expect: reject('aliases.noStateKey'),
  },

  // --- generic rules ----------------------------------------------------------------------------
  {
    name: 'a non-member sends a message',
    run: (h) => h.check(h.room(), 'm.room.message', { body: 'hi' }, { sender: EVE }),
    expect: reject('senderNotJoined'),
  },
  {
    name: 'a member sends a message',
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      return h.check(room, 'm.room.message', { body: 'hi' }, { sender: CAROL });
    },
    expect: allow('allow'),
  },
  {
    name: 'a member below state_default sets the topic',
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      return h.check(room, 'm.room.topic', { topic: 't' }, { sender: CAROL, state_key: '' });
    },
    expect: reject('requiredPower'),
  },
  {
    name: 'state keyed by another user',
    run: (h) => h.check(h.room(), 'com.example.state', {}, { state_key: BOB }),
    expect: reject('stateKeyUser'),
  },
  {
    name: 'state keyed by the sender',
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      h.setPowerLevels(room, { events: { 'com.example.state': 0 } });
      return h.check(room, 'com.example.state', {}, { sender: CAROL, state_key: CAROL });
    },
    expect: allow('allow'),
  },
  {
    name: 'third-party invite event at the invite level',
    run: (h) => h.check(h.room(), 'm.room.third_party_invite', { display_name: 'x', public_key: 'AAAA' }, { state_key: 'tok' }),
    expect: allow('thirdPartyInvite'),
  },
  {
    name: 'third-party invite event below the invite level',
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      h.setPowerLevels(room, { invite: 50 });
      return h.check(room, 'm.room.third_party_invite', { display_name: 'x', public_key: 'AAAA' }, { sender: CAROL, state_key: 'tok' });
    },
    expect: reject('thirdPartyInvite'),
  },
];
