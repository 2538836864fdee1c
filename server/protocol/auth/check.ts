/**
 * The authorization rules of every room version (rooms/fragments/v1-auth-rules.md, v3-auth-rules.md,
 * v8-auth-rules.md, rooms/v6.md, v7.md, v10.md, v11.md, v12.md "Authorisation rules").
 * Numbers in comments are the v12 ones unless stated; `AuthResult.rule` carries the per-version number.
 */
import type { Pdu } from '../pdu-types.ts';
import type { RoomVersion } from '../room-versions.ts';
import { makeContext, membershipOf } from './context.ts';
import { authEventsNeeded } from './auth-events.ts';
import { isObject, own, serverNameOf } from './ids.ts';
import { checkMembership } from './membership.ts';
import { checkPowerLevels } from './power-levels-rule.ts';
import { getNamedLevel, getRequiredPowerLevel } from './power-levels.ts';
import { allow, reject } from './rules.ts';
import { checkStateIndependent } from './state-independent.ts';
import { stateKeyOf, type AuthEventMap, type AuthOptions, type AuthResult } from './types.ts';

/**
 * The rules that depend on room state, checked against `auth` (the event's auth events, or the
 * state before the event, or the current state: server-server-api.md "Checks performed on receipt
 * of a PDU" steps 4–6). State resolution's iterative auth checks use only these.
 */
export function checkStateDependent(event: Pdu, auth: AuthEventMap, v: RoomVersion, opts: AuthOptions = {}): AuthResult {
  const malformed = checkBasicShape(event, v);
  if (malformed) return malformed;
  // Rule 1 (create) is state-independent; a create event passes the state-dependent rules.
  if (event.type === 'm.room.create' && event.state_key === '') return allow(v, 'create.allow');
  const ctx = makeContext(event, auth, v, opts);
  const { create } = ctx;

  if (v.roomIdFromCreateEvent) {
    // In v12, 2. "If the event's room_id is not an event ID for an accepted (not rejected)
    // m.room.create event, with the sigil ! instead of $, reject." The caller supplies the create
    // event (found from the room ID) and is responsible for it being accepted.
    if (!create) return reject(v, 'roomIdIsCreate', 'the m.room.create event of this room is not available');
    if (typeof event.room_id !== 'string' || event.room_id !== `!${create.event_id.slice(1)}`) {
      return reject(v, 'roomIdIsCreate', `room_id ${event.room_id} is not the ID of create event ${create.event_id}`);
    }
  } else if (!create) {
    // v1–v11 2.4 "If there is no m.room.create event among the entries, reject."
    return reject(v, 'authEvents.noCreate', 'no m.room.create event among the auth events');
  }
  // 3.5 (v1–v11 2.5) "If any event in auth_events has a room_id which does not match that of the
  // event being authorised, reject." Only the entries the rules read are looked at, so callers may
  // pass the whole room state. The v12 create event has no room_id: it was matched above.
  for (const [t, s] of authEventsNeeded(event, v)) {
    const a = auth.get(stateKeyOf(t, s));
    if (a && a.room_id !== event.room_id) return reject(v, 'authEvents.roomIdMismatch', `auth event ${a.event_id} is in room ${a.room_id}`);
  }

  // 4. "If the content of the m.room.create event in the room state has the property m.federate set
  // to false, and the sender domain of the event does not match the sender domain of the create event, reject."
  if (create && own(create.content, 'm.federate') === false && serverNameOf(event.sender) !== serverNameOf(create.sender)) {
    return reject(v, 'federate', 'the room does not federate and the sender is on another server');
  }

  // v1–v5 rule 4 "If type is m.room.aliases": 1. no state_key, reject; 2. "If sender's domain
  // doesn't match state_key, reject."; 3. "Otherwise, allow." (Removed in v6.)
  if (v.specialCaseAliasesAuth && event.type === 'm.room.aliases') {
    if (event.state_key === undefined) return reject(v, 'aliases.noStateKey', 'm.room.aliases needs a state_key');
    if (serverNameOf(event.sender) !== event.state_key) return reject(v, 'aliases.wrongDomain', "state_key is not the sender's server");
    return allow(v, 'aliases.allow');
  }

  // 5. "If type is m.room.member": see membership.ts.
  if (event.type === 'm.room.member') return checkMembership(ctx);

  // 6. "If the sender's current membership state is not join, reject."
  if (membershipOf(ctx, event.sender) !== 'join') return reject(v, 'senderNotJoined', 'sender is not joined to the room');

  // 7. "If type is m.room.third_party_invite: allow if and only if sender's current power level is
  // greater than or equal to the invite level."
  if (event.type === 'm.room.third_party_invite') {
    if (ctx.senderPower >= getNamedLevel('invite', ctx.powerLevels, v)) return allow(v, 'thirdPartyInvite');
    return reject(v, 'thirdPartyInvite', 'sender power level is below the invite level');
  }

  // 8. "If the event type's required power level is greater than the sender's power level, reject."
  const required = getRequiredPowerLevel(event.type, event.state_key !== undefined, ctx.powerLevels, v);
  if (required > ctx.senderPower) {
    return reject(v, 'requiredPower', `${event.type} needs power level ${required}, sender has ${ctx.senderPower}`);
  }

  // 9. "If the event has a state_key that starts with an @ and does not match the sender, reject."
  if (typeof event.state_key === 'string' && event.state_key.startsWith('@') && event.state_key !== event.sender) {
    return reject(v, 'stateKeyUser', "state_key names another user");
  }

  // 10. "If type is m.room.power_levels": see power-levels-rule.ts.
  if (event.type === 'm.room.power_levels' && event.state_key === '') return checkPowerLevels(ctx);

  // v1–v2 rule 11 "If type is m.room.redaction": 1. "If the sender's power level is greater than or
  // equal to the redact level, allow." 2. "If the domain of the event_id of the event being redacted
  // is the same as the domain of the event_id of the m.room.redaction, allow." 3. "Otherwise, reject."
  // Since v3 redactions are authorised like any event; "Handling redactions" is the caller's job.
  if (v.redactionAuthRule && event.type === 'm.room.redaction') {
    if (ctx.senderPower >= getNamedLevel('redact', ctx.powerLevels, v)) return allow(v, 'redaction.powerLevel');
    const mine = typeof event.event_id === 'string' ? serverNameOf(event.event_id) : undefined;
    const target = typeof event.redacts === 'string' ? serverNameOf(event.redacts) : undefined;
    if (mine !== undefined && mine === target) return allow(v, 'redaction.sameDomain');
    return reject(v, 'redaction.otherwise', 'sender may not redact events from another server');
  }

  // 11. "Otherwise, allow."
  return allow(v, 'allow');
}

/**
 * Events reach the rules after format validation (pdu.ts); this only keeps a malformed event that
 * slipped through from throwing. Not a numbered rule (its `rule` is "?").
 */
function checkBasicShape(event: Pdu, v: RoomVersion): AuthResult | undefined {
  if (typeof event !== 'object' || event === null) return reject(v, 'format', 'event is not an object');
  if (typeof event.type !== 'string' || typeof event.sender !== 'string') return reject(v, 'format', 'event needs string type and sender');
  if (!isObject(event.content)) return reject(v, 'format', 'event content is not an object');
  if (event.state_key !== undefined && typeof event.state_key !== 'string') return reject(v, 'format', 'state_key is not a string');
  return undefined;
}

/**
 * All rules except those about the `auth_events` list itself (see `checkAuthEventsList`):
 * state-independent rules, then the state-dependent ones against `auth` — the event's auth events
 * or a room state, keyed by stateKeyOf(type, state_key). In v12 `auth` must also hold the room's
 * m.room.create event (never among auth_events there; the caller finds it from the room ID).
 */
export function checkAuth(event: Pdu, auth: AuthEventMap, v: RoomVersion, opts: AuthOptions = {}): AuthResult {
  const malformed = checkBasicShape(event, v);
  if (malformed) return malformed;
  const independent = checkStateIndependent(event, v, opts);
  if (!independent.ok || (event.type === 'm.room.create' && event.state_key === '')) return independent;
  return checkStateDependent(event, auth, v, opts);
}
