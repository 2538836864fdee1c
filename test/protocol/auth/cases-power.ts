/** Cases for m.room.power_levels changes (incl. v10 integers, v6 notifications, v12 creators) and v1–v2 redactions. */
import type { JsonObject } from '../../../server/protocol/pdu-types.ts';
import { defaultPowerLevels, type TestRoom } from '../../helpers/events.ts';
import { ALICE, BOB, CAROL, DAVE, allow, reject, type AuthCase, type Harness } from './harness.ts';

/**
 * A room where CAROL (60) may send power levels (events["m.room.power_levels"] = 50) and DAVE has 60;
 * ALICE set ban 80, events["m.room.name"] 70 and notifications.room 70.
 */
function moderated(h: Harness): TestRoom {
  const room = h.room();
  room.join(CAROL);
  room.join(DAVE);
  h.setPowerLevels(room, moderatedContent(h));
  return room;
}

function moderatedContent(h: Harness, change: (c: JsonObject) => void = () => {}): JsonObject {
  const base = defaultPowerLevels(ALICE, h.v);
  const c: JsonObject = {
    ...base,
    ban: 80,
    users: { ...(base.users as JsonObject), [CAROL]: 60, [DAVE]: 60 },
    events: { ...(base.events as JsonObject), 'm.room.power_levels': 50, 'm.room.name': 70 },
    notifications: { room: 70 },
  };
  change(c);
  return c;
}

/** CAROL sends power levels: the moderated content with `change` applied. */
function carolSets(h: Harness, change: (c: JsonObject) => void) {
  return h.check(moderated(h), 'm.room.power_levels', moderatedContent(h, change), { sender: CAROL, state_key: '' });
}

/** ALICE sends power levels: the defaults with `change` applied. */
function aliceSets(h: Harness, change: (c: JsonObject) => void) {
  const c = { ...defaultPowerLevels(ALICE, h.v) };
  change(c);
  return h.check(h.room(), 'm.room.power_levels', c, { state_key: '' });
}

const users = (c: JsonObject): JsonObject => c.users as JsonObject;
const events = (c: JsonObject): JsonObject => c.events as JsonObject;

export const powerCases: AuthCase[] = [
  {
    name: 'power levels: first power-levels event in the room',
    run: (h) => h.check(h.room({ powerLevels: null }), 'm.room.power_levels', defaultPowerLevels(ALICE, h.v), { state_key: '' }),
    expect: allow('powerLevels.noPrevious'),
  },
  {
    name: 'power levels: string ban level — accepted before v10, rejected since',
    run: (h) => aliceSets(h, (c) => (c.ban = '50')),
    expect: (v) => (v.integerPowerLevels ? reject('powerLevels.integers') : allow('powerLevels.allow')),
  },
  {
    name: 'power levels: string value in events — accepted before v10',
    run: (h) => aliceSets(h, (c) => (events(c)['m.room.name'] = ' +050 ')),
    expect: (v) => (v.integerPowerLevels ? reject('powerLevels.objects') : allow('powerLevels.allow')),
  },
  {
    name: 'power levels: string user level — accepted before v10',
    run: (h) => aliceSets(h, (c) => (users(c)[BOB] = '50')),
    expect: (v) => (v.integerPowerLevels ? reject('powerLevels.users') : allow('powerLevels.allow')),
  },
  {
    name: 'power levels: float user level, truncated (v1–v5; from v6 canonical JSON forbids floats)',
    versions: (v) => !v.strictCanonicalJson,
    run: (h) => aliceSets(h, (c) => (users(c)[BOB] = 50.57)),
    expect: allow('powerLevels.allow'),
  },
  {
    name: 'power levels: non-numeric string level',
    run: (h) => aliceSets(h, (c) => (users(c)[BOB] = 'fifty')),
    expect: reject('powerLevels.users'),
  },
  {
    name: 'power levels: users key is not a user ID',
    run: (h) => aliceSets(h, (c) => (users(c)['bob'] = 10)),
    expect: reject('powerLevels.users'),
  },
  {
    name: 'power levels: notifications is not an object (v10+)',
    versions: (v) => v.integerPowerLevels,
    run: (h) => aliceSets(h, (c) => (c.notifications = 50)),
    expect: reject('powerLevels.objects'),
  },
  {
    name: 'power levels: the creator listed in users — forbidden in v12',
    run: (h) => aliceSets(h, (c) => (users(c)[ALICE] = 100)),
    expect: (v) => (v.privilegedCreators ? reject('powerLevels.creators') : allow('powerLevels.allow')),
  },
  {
    name: 'power levels: lowering a level above the sender’s (ban 80 → 50 by a 60)',
    run: (h) => carolSets(h, (c) => (c.ban = 50)),
    expect: reject('powerLevels.scalars.current'),
  },
  {
    name: 'power levels: raising a level above the sender’s (kick 70 by a 60)',
    run: (h) => carolSets(h, (c) => (c.kick = 70)),
    expect: reject('powerLevels.scalars.new'),
  },
  {
    name: 'power levels: changing an event level above the sender’s',
    run: (h) => carolSets(h, (c) => (events(c)['m.room.name'] = 50)),
    expect: reject('powerLevels.eventsRemoved'),
  },
  {
    name: 'power levels: adding an event level above the sender’s',
    run: (h) => carolSets(h, (c) => (events(c)['com.example'] = 61)),
    expect: reject('powerLevels.eventsAdded'),
  },
  {
    name: 'power levels: lowering notifications.room above the sender’s — checked since v6',
    run: (h) => carolSets(h, (c) => (c.notifications = { room: 0 })),
    expect: (v) => (v.limitNotificationsPowerLevels ? reject('powerLevels.eventsRemoved') : allow('powerLevels.allow')),
  },
  {
    name: 'power levels: demoting a user with the sender’s own level',
    run: (h) => carolSets(h, (c) => (users(c)[DAVE] = 0)),
    expect: reject('powerLevels.usersRemoved'),
  },
  {
    name: 'power levels: the sender demotes themself',
    run: (h) => carolSets(h, (c) => (users(c)[CAROL] = 10)),
    expect: allow('powerLevels.allow'),
  },
  {
    name: 'power levels: promoting a user above the sender',
    run: (h) => carolSets(h, (c) => (users(c)[BOB] = 61)),
    expect: reject('powerLevels.usersAdded'),
  },
  {
    name: 'power levels: promoting a user up to the sender’s level',
    run: (h) => carolSets(h, (c) => (users(c)[BOB] = 60)),
    expect: allow('powerLevels.allow'),
  },
  {
    name: 'power levels: a value written differently but equal is no change ("60" for 60, before v10)',
    versions: (v) => !v.integerPowerLevels,
    run: (h) => carolSets(h, (c) => (users(c)[DAVE] = '60')),
    expect: allow('powerLevels.allow'),
  },

  // --- redactions: own rule in v1–v2, ordinary events since v3 ----------------------------------
  {
    name: 'redaction: a user of another server without the redact level',
    run: (h) => {
      const room = h.room();
      room.join(BOB);
      const msg = room.message(ALICE, 'secret');
      return h.check(room, 'm.room.redaction', {}, { sender: BOB, redacts: msg.eventId });
    },
    expect: (v) => (v.redactionAuthRule ? reject('redaction.otherwise') : allow('allow')),
  },
  {
    name: 'redaction: same server as the redacted event (v1–v2 event-ID domains)',
    versions: (v) => v.redactionAuthRule,
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      const msg = room.message(ALICE, 'secret');
      return h.check(room, 'm.room.redaction', {}, { sender: CAROL, redacts: msg.eventId });
    },
    expect: allow('redaction.sameDomain'),
  },
  {
    name: 'redaction: at the redact level',
    run: (h) => {
      const room = h.room();
      room.join(BOB);
      const msg = room.message(BOB, 'spam');
      return h.check(room, 'm.room.redaction', {}, { redacts: msg.eventId });
    },
    expect: (v) => (v.redactionAuthRule ? allow('redaction.powerLevel') : allow('allow')),
  },
];
