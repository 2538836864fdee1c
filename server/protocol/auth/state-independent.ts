/**
 * Authorization rules that look only at the event itself: the `m.room.create` rules (rule 1 in every
 * version), the membership shape rule and, since v8, the `join_authorised_via_users_server` signature.
 */
import type { Pdu } from '../pdu-types.ts';
import { ROOM_VERSIONS, type RoomVersion } from '../room-versions.ts';
import { isUserIdShape, own, serverNameOf } from './ids.ts';
import { allow, reject } from './rules.ts';
import type { AuthOptions, AuthResult } from './types.ts';

/** Rule 1, "If type is m.room.create". */
export function checkCreateEvent(event: Pdu, v: RoomVersion, opts: AuthOptions = {}): AuthResult {
  // 1.1 "If it has any prev_events, reject."
  if (Array.isArray(event.prev_events) && event.prev_events.length > 0) {
    return reject(v, 'create.prevEvents', 'm.room.create has prev_events');
  }
  if (v.roomIdFromCreateEvent) {
    // In v12, 1.2 "If the event has a room_id, reject." (the room ID is derived from the event ID).
    if (event.room_id !== undefined) return reject(v, 'create.hasRoomId', 'm.room.create must not have a room_id in this room version');
  } else {
    // Since v1, 1.2 "If the domain of the room_id does not match the domain of the sender, reject."
    const roomServer = typeof event.room_id === 'string' ? serverNameOf(event.room_id) : undefined;
    if (roomServer === undefined || roomServer !== serverNameOf(event.sender)) {
      return reject(v, 'create.roomDomain', 'room_id domain does not match the sender domain');
    }
  }
  // 1.3 "If content.room_version is present and is not a recognised version, reject."
  if (Object.hasOwn(event.content, 'room_version')) {
    const rv = event.content.room_version;
    const known = opts.isKnownRoomVersion ?? ((id: string) => ROOM_VERSIONS.has(id));
    if (typeof rv !== 'string' || !known(rv)) return reject(v, 'create.roomVersion', `unrecognised room_version ${JSON.stringify(rv)}`);
  }
  // v1–v10, 1.4 "If content has no creator property, reject." (removed in v11: the sender is the creator)
  if (!v.implicitCreator && !Object.hasOwn(event.content, 'creator')) {
    return reject(v, 'create.noCreator', 'm.room.create content has no creator');
  }
  // In v12, 1.4 "If additional_creators is present in content and is not an array of strings where
  // each string passes the same user ID validation applied to sender, reject."
  if (v.privilegedCreators && Object.hasOwn(event.content, 'additional_creators')) {
    const extra = event.content.additional_creators;
    if (!Array.isArray(extra) || !extra.every((u) => isUserIdShape(u))) {
      return reject(v, 'create.additionalCreators', 'additional_creators is not an array of user IDs');
    }
  }
  return allow(v, 'create.allow');
}

/** Membership rule 1: "If there is no state_key property, or no membership property in content, reject." */
export function checkMemberShape(event: Pdu, v: RoomVersion): AuthResult | undefined {
  if (typeof event.state_key !== 'string' || typeof own(event.content, 'membership') !== 'string') {
    return reject(v, 'member.shape', 'm.room.member needs a state_key and a string content.membership');
  }
  return undefined;
}

/**
 * Since v8, membership rule 2: "If content has a join_authorised_via_users_server key: if the event
 * is not validly signed by the homeserver of the user ID denoted by the key, reject."
 */
export function checkJoinAuthorisedSignature(event: Pdu, v: RoomVersion, opts: AuthOptions): AuthResult | undefined {
  if (!v.restrictedJoinRule || !Object.hasOwn(event.content, 'join_authorised_via_users_server')) return undefined;
  const via = event.content.join_authorised_via_users_server;
  const server = isUserIdShape(via) ? serverNameOf(via) : undefined;
  if (server === undefined) return reject(v, 'member.joinAuthorisedSignature', 'join_authorised_via_users_server is not a user ID');
  const sigs = event.signatures && Object.hasOwn(event.signatures, server) ? event.signatures[server] : undefined;
  const signed = opts.isSignedBy ? opts.isSignedBy(event, server) : typeof sigs === 'object' && sigs !== null && Object.keys(sigs).length > 0;
  if (!signed) return reject(v, 'member.joinAuthorisedSignature', `event is not signed by ${server}, the authorising server`);
  return undefined;
}

/**
 * Every rule that needs no room state: create events are fully decided here; for other events an
 * `{ok:true}` without `rule` means "continue with the state-dependent rules".
 */
export function checkStateIndependent(event: Pdu, v: RoomVersion, opts: AuthOptions = {}): AuthResult {
  if (event.type === 'm.room.create' && event.state_key === '') return checkCreateEvent(event, v, opts);
  if (event.type === 'm.room.member') {
    const shape = checkMemberShape(event, v);
    if (shape) return shape;
    const sig = checkJoinAuthorisedSignature(event, v, opts);
    if (sig) return sig;
  }
  return { ok: true };
}
