/**
 * server-server-api.md "Auth events selection", and the rules about an event's `auth_events`
 * (v1–v11 rule 2, v12 rule 3: duplicates, unexpected entries, rejected entries, create event, room ID).
 */
import type { Pdu } from '../pdu-types.ts';
import type { RoomVersion } from '../room-versions.ts';
import { isObject, own } from './ids.ts';
import { reject } from './rules.ts';
import { stateKeyOf, type AuthOptions, type AuthResult, type IdentifiedPdu } from './types.ts';

/**
 * The `(type, state_key)` pairs an event's `auth_events` should hold ("Auth events selection"):
 * - the `m.room.create` event (not in v12: "m.room.create MUST NOT be selected"),
 * - the current `m.room.power_levels`, the sender's `m.room.member`,
 * - for membership events: the target's `m.room.member`; for join/invite/knock the `m.room.join_rules`;
 *   for an invite with `third_party_invite` the `m.room.third_party_invite` whose state key is
 *   `signed.token`; since v8, for a join with `join_authorised_via_users_server`, that user's member event.
 * The create event itself has no auth events.
 */
export function authEventsNeeded(event: Pdu, version: RoomVersion): Array<[type: string, stateKey: string]> {
  if (event.type === 'm.room.create' && event.state_key === '') return [];
  const out: Array<[string, string]> = [];
  const seen = new Set<string>();
  const add = (type: string, stateKey: string): void => {
    const k = stateKeyOf(type, stateKey);
    if (!seen.has(k)) {
      seen.add(k);
      out.push([type, stateKey]);
    }
  };
  if (!version.roomIdFromCreateEvent) add('m.room.create', '');
  add('m.room.power_levels', '');
  add('m.room.member', event.sender);
  if (event.type === 'm.room.member' && typeof event.state_key === 'string') {
    add('m.room.member', event.state_key);
    const membership = own(event.content, 'membership');
    if (membership === 'join' || membership === 'invite' || membership === 'knock') add('m.room.join_rules', '');
    const tpi = own(event.content, 'third_party_invite');
    if (membership === 'invite' && isObject(tpi)) {
      const signed = own(tpi, 'signed');
      const token = isObject(signed) ? own(signed, 'token') : undefined;
      if (typeof token === 'string') add('m.room.third_party_invite', token);
    }
    const via = own(event.content, 'join_authorised_via_users_server');
    if (membership === 'join' && version.restrictedJoinRule && typeof via === 'string') add('m.room.member', via);
  }
  return out;
}

/**
 * Rules on the event's actual `auth_events` list (resolved to events by the caller, in order).
 * v1–v11 rule 2 / v12 rule 3:
 * 1. "If there are duplicate entries for a given type and state_key pair, reject."
 * 2. "If there are entries whose type and state_key don't match those specified by the auth events
 *    selection algorithm, reject." (In v12 this includes any m.room.create.)
 * 3. "If there are entries which were themselves rejected …, reject." (via `opts.isRejected`)
 * 4. (v1–v11) "If there is no m.room.create event among the entries, reject."
 * 5. "If any event in auth_events has a room_id which does not match that of the event being authorised, reject."
 * An `auth_events` ID the caller could not resolve should be reported by the caller (the event is
 * then missing auth events and cannot be checked).
 */
export function checkAuthEventsList(
  event: Pdu,
  authEvents: readonly IdentifiedPdu[],
  version: RoomVersion,
  opts: AuthOptions = {},
): AuthResult {
  if (event.type === 'm.room.create' && event.state_key === '') return { ok: true };
  const seen = new Set<string>();
  for (const a of authEvents) {
    const k = stateKeyOf(a.type, a.state_key ?? '');
    if (a.state_key === undefined || seen.has(k)) {
      return reject(version, 'authEvents.duplicate', `duplicate (or non-state) auth event ${a.type}/${a.state_key ?? ''}`);
    }
    seen.add(k);
  }
  const expected = new Set(authEventsNeeded(event, version).map(([t, s]) => stateKeyOf(t, s)));
  for (const a of authEvents) {
    if (!expected.has(stateKeyOf(a.type, a.state_key ?? ''))) {
      return reject(version, 'authEvents.unexpected', `auth event ${a.event_id} (${a.type}/${a.state_key}) is not one the auth events selection picks`);
    }
  }
  if (opts.isRejected) {
    for (const a of authEvents) {
      if (opts.isRejected(a.event_id)) return reject(version, 'authEvents.rejected', `auth event ${a.event_id} was rejected`);
    }
  }
  if (!version.roomIdFromCreateEvent && !seen.has(stateKeyOf('m.room.create', ''))) {
    return reject(version, 'authEvents.noCreate', 'no m.room.create event among the auth events');
  }
  for (const a of authEvents) {
    if (a.room_id !== event.room_id) {
      return reject(version, 'authEvents.roomIdMismatch', `auth event ${a.event_id} belongs to room ${a.room_id}, not ${event.room_id}`);
    }
  }
  return { ok: true };
}
