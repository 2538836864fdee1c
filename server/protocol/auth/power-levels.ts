/**
 * Reading power levels (server-server-api.md "Definitions": required power level, invite/kick/ban/
 * redact level; m.room.power_levels schema defaults) and room creators (v12 "room creators").
 */
import type { Json, Pdu } from '../pdu-types.ts';
import type { RoomVersion } from '../room-versions.ts';
import { isObject, own } from './ids.ts';

/**
 * A power-level value as a number, or undefined if it is not one.
 * v1–v9 "m.room.power_levels events accept values as strings": optional whitespace, one optional
 * sign, decimal digits ("+100", " 00100 "). v1–v5 also "accept values as floats", truncated at the
 * decimal point; non-finite values are invalid. Since v10 only integers are power levels.
 */
export function parseLevel(value: Json | undefined, integersOnly: boolean): number | undefined {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    if (integersOnly || !Number.isFinite(value)) return undefined;
    return Math.trunc(value);
  }
  if (typeof value === 'string' && !integersOnly && /^\s*[+-]?\d+\s*$/.test(value)) {
    return Number(value.trim());
  }
  return undefined;
}

/** Named levels and their defaults when absent ("The invite level defaults to 0 … kick, ban and redact to 50"). */
export const NAMED_LEVEL_DEFAULTS = { invite: 0, kick: 50, ban: 50, redact: 50 } as const;
export type NamedLevel = keyof typeof NAMED_LEVEL_DEFAULTS;

function integersOnly(version: RoomVersion | undefined): boolean {
  return version?.integerPowerLevels ?? false;
}

/** The invite / kick / ban / redact level given the current power-levels event (if any). */
export function getNamedLevel(name: NamedLevel, pl: Pdu | undefined, version?: RoomVersion): number {
  return parseLevel(own(pl?.content, name), integersOnly(version)) ?? NAMED_LEVEL_DEFAULTS[name];
}

/**
 * "The event type's required power level": `events[type]`, else `state_default` (50 if absent or
 * if there is no power-levels event) for state events, `events_default` (0) for others.
 */
export function getRequiredPowerLevel(eventType: string, isState: boolean, pl: Pdu | undefined, version?: RoomVersion): number {
  const strict = integersOnly(version);
  const events = own(pl?.content, 'events');
  const specific = isObject(events) ? parseLevel(own(events, eventType), strict) : undefined;
  if (specific !== undefined) return specific;
  if (isState) return parseLevel(own(pl?.content, 'state_default'), strict) ?? 50;
  return parseLevel(own(pl?.content, 'events_default'), strict) ?? 0;
}

/**
 * The room creators. v1–v10: `content.creator` of the create event. v11: the create event's sender
 * ("the state_key is the sender of the m.room.create"). In v12, "Room creators include the sender of
 * the m.room.create event and any user IDs in `additional_creators`".
 */
export function roomCreators(createEvent: Pdu, version: RoomVersion): string[] {
  if (!version.implicitCreator) {
    const c = own(createEvent.content, 'creator');
    return typeof c === 'string' ? [c] : [];
  }
  const out = [createEvent.sender];
  if (version.privilegedCreators) {
    const extra = own(createEvent.content, 'additional_creators');
    if (Array.isArray(extra)) for (const u of extra) if (typeof u === 'string') out.push(u);
  }
  return out;
}

/** Whether `userId` is a room creator (see `roomCreators`). */
export function isRoomCreator(userId: string, createEvent: Pdu | undefined, version: RoomVersion): boolean {
  return createEvent !== undefined && roomCreators(createEvent, version).includes(userId);
}

/**
 * A user's power level. In v12 "The power level of room creators is infinitely high". Otherwise
 * `users[userId]`, else `users_default` (0). With no power-levels event, "the room's creator has a
 * power level of 100, and all other users have a power level of 0".
 */
export function getPowerLevel(userId: string, plEvent: Pdu | undefined, createEvent: Pdu | undefined, version: RoomVersion): number {
  if (version.privilegedCreators && isRoomCreator(userId, createEvent, version)) return Infinity;
  if (plEvent) {
    const strict = integersOnly(version);
    const users = own(plEvent.content, 'users');
    const mine = isObject(users) ? parseLevel(own(users, userId), strict) : undefined;
    if (mine !== undefined) return mine;
    return parseLevel(own(plEvent.content, 'users_default'), strict) ?? 0;
  }
  return isRoomCreator(userId, createEvent, version) ? 100 : 0;
}
