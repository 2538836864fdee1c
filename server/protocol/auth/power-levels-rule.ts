/**
 * "If type is m.room.power_levels" (v1–v5 rule 10, v6–v11 rule 9, v12 rule 10). Comments use the
 * v12 sub-rule numbers; v10–v11 lack 4, v1–v9 also lack 1–2.
 */
import type { Json, JsonObject } from '../pdu-types.ts';
import type { RuleContext } from './context.ts';
import { isObject, isUserIdShape, own } from './ids.ts';
import { parseLevel, roomCreators } from './power-levels.ts';
import { allow, reject } from './rules.ts';
import type { AuthResult } from './types.ts';

const SCALARS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;

function isInteger(v: Json | undefined): boolean {
  return typeof v === 'number' && Number.isInteger(v);
}

function objectOf(content: JsonObject | undefined, key: string): JsonObject {
  const o = own(content, key);
  return isObject(o) ? o : {};
}

export function checkPowerLevels(ctx: RuleContext): AuthResult {
  const { event, v } = ctx;
  const content = event.content;
  const strict = v.integerPowerLevels;
  if (strict) {
    // 10.1 (v10+) "If any of the properties users_default, events_default, state_default, ban, redact,
    // kick, or invite in content are present and not an integer, reject."
    for (const k of SCALARS) {
      if (Object.hasOwn(content, k) && !isInteger(content[k])) return reject(v, 'powerLevels.integers', `${k} is not an integer`);
    }
    // 10.2 (v10+) "If either of the properties events or notifications in content are present and not
    // an object with values that are integers, reject."
    for (const k of ['events', 'notifications']) {
      if (!Object.hasOwn(content, k)) continue;
      const o = content[k];
      if (!isObject(o) || !Object.values(o).every(isInteger)) return reject(v, 'powerLevels.objects', `${k} is not an object of integers`);
    }
  }
  // 10.3 "If the users property in content is not an object with keys that are valid user IDs with
  // values that are integers (v1–v9: or a string that is an integer), reject."
  if (Object.hasOwn(content, 'users')) {
    const users = content.users;
    if (!isObject(users)) return reject(v, 'powerLevels.users', 'users is not an object');
    for (const [user, level] of Object.entries(users)) {
      if (!isUserIdShape(user)) return reject(v, 'powerLevels.users', `users key ${JSON.stringify(user)} is not a user ID`);
      if (parseLevel(level, strict) === undefined) return reject(v, 'powerLevels.users', `users[${user}] is not an integer`);
    }
  }
  if (!strict) {
    // Not a numbered rule before v10, but every later comparison needs numbers: like Synapse (which
    // int()s each value and rejects on failure), refuse values that are not integers in any form.
    for (const k of SCALARS) {
      if (Object.hasOwn(content, k) && parseLevel(content[k], false) === undefined) {
        return reject(v, 'powerLevels.users', `${k} is not an integer (or a string that is an integer)`);
      }
    }
    for (const k of ['events', 'notifications']) {
      if (!Object.hasOwn(content, k)) continue;
      const o = content[k];
      if (!isObject(o) || !Object.values(o).every((x) => parseLevel(x, false) !== undefined)) {
        return reject(v, 'powerLevels.users', `${k} is not an object of integers`);
      }
    }
  }
  // 10.4 (v12) "If the users property in content contains the sender of the m.room.create event or any
  // of the additional_creators array (if present) from the content of the m.room.create event, reject."
  if (v.privilegedCreators && ctx.create) {
    const users = objectOf(content, 'users');
    for (const creator of roomCreators(ctx.create, v)) {
      if (Object.hasOwn(users, creator)) return reject(v, 'powerLevels.creators', `room creator ${creator} cannot be listed in users`);
    }
  }
  // 10.5 "If there is no previous m.room.power_levels event in the room, allow."
  const previous = ctx.powerLevels;
  if (!previous) return allow(v, 'powerLevels.noPrevious');
  const old = previous.content;
  const me = ctx.senderPower;
  const level = (o: JsonObject, k: string): number | undefined => parseLevel(own(o, k), strict);

  // 10.6 "For the properties users_default, events_default, state_default, ban, redact, kick, invite
  // check if they were added, changed or removed. For each found alteration:"
  for (const k of SCALARS) {
    const before = level(old, k);
    const after = level(content, k);
    if (before === after) continue;
    // 10.6.1 "If the current value is higher than the sender's current power level, reject."
    if (before !== undefined && before > me) return reject(v, 'powerLevels.scalars.current', `current ${k} (${before}) is above the sender's level`);
    // 10.6.2 "If the new value is higher than the sender's current power level, reject."
    if (after !== undefined && after > me) return reject(v, 'powerLevels.scalars.new', `new ${k} (${after}) is above the sender's level`);
  }

  // "events" and, since v6, "notifications" (limitNotificationsPowerLevels).
  const maps = v.limitNotificationsPowerLevels ? ['events', 'notifications'] : ['events'];
  const pairs = (key: string): Array<[string, number | undefined, number | undefined]> => {
    const a = objectOf(old, key);
    const b = objectOf(content, key);
    const names = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...names].sort().map((n) => [n, level(a, n), level(b, n)]);
  };
  // 10.7 "For each entry being changed in, or removed from, the events or notifications properties:
  // if the current value is greater than the sender's current power level, reject."
  for (const key of maps) {
    for (const [name, before, after] of pairs(key)) {
      if (before !== undefined && before !== after && before > me) {
        return reject(v, 'powerLevels.eventsRemoved', `current ${key}[${name}] (${before}) is above the sender's level`);
      }
    }
  }
  // 10.8 "For each entry being added to, or changed in, the events or notifications properties: if
  // the new value is greater than the sender's current power level, reject."
  for (const key of maps) {
    for (const [name, before, after] of pairs(key)) {
      if (after !== undefined && before !== after && after > me) {
        return reject(v, 'powerLevels.eventsAdded', `new ${key}[${name}] (${after}) is above the sender's level`);
      }
    }
  }
  const users = pairs('users');
  // 10.9 "For each entry being changed in, or removed from, the users property, other than the
  // sender's own entry: if the current value is greater than or equal to the sender's current power level, reject."
  for (const [user, before, after] of users) {
    if (user !== event.sender && before !== undefined && before !== after && before >= me) {
      return reject(v, 'powerLevels.usersRemoved', `cannot change ${user}'s level (${before}): not below the sender's`);
    }
  }
  // 10.10 "For each entry being added to, or changed in, the users property: if the new value is
  // greater than the sender's current power level, reject."
  for (const [user, before, after] of users) {
    if (after !== undefined && before !== after && after > me) {
      return reject(v, 'powerLevels.usersAdded', `cannot give ${user} level ${after}: above the sender's`);
    }
  }
  // "Otherwise, allow."
  return allow(v, 'powerLevels.allow');
}
