/**
 * Format checks on a PDU (server-server-api.md "Checks performed on receipt of a PDU" step 1,
 * the pdu_v1/v3/v4/v6/v11/v12 schemas, client-server-api "Size limits"), plus two content checks
 * the authorisation rules use (power-level values, v12 create events).
 *
 * A PDU failing checkPdu is dropped (or, from a client, refused with the error's errcode);
 * failing the content checks means the event is *rejected* by the auth rules instead.
 */
import { assertCanonicalJsonCompatible, canonicalJson, CanonicalJsonError } from './canonical-json.ts';
import { MAX_ID_BYTES, parseEventId, parseRoomId, parseUserId, utf8Length } from './identifiers.ts';
import type { Json, JsonObject, Pdu } from './pdu-types.ts';
import type { RoomVersion } from './room-versions.ts';

/** "The complete event MUST NOT be larger than 65536 bytes" as canonical JSON with signatures. */
export const MAX_PDU_BYTES = 65536;
/** state_key and type are each limited to 255 bytes (sender, room_id, event_id: MAX_ID_BYTES, also 255). */
export const MAX_KEY_BYTES = 255;
/** prev_events "Must contain less than or equal to 20 events". */
export const MAX_PREV_EVENTS = 20;
/** auth_events "Must contain less than or equal to 10 events". */
export const MAX_AUTH_EVENTS = 10;

/** Machine-readable reason of a PduError. */
export type PduErrorCode =
  | 'not_object'
  | 'bad_json' // not canonical-JSON compatible (v6+) or not encodable
  | 'too_large'
  | 'field_too_long'
  | 'missing_field'
  | 'wrong_type'
  | 'unexpected_field'
  | 'bad_identifier'
  | 'bad_reference'
  | 'too_many_prev_events'
  | 'too_many_auth_events';

/** Why a PDU is malformed: `code` for programs, `field` (dotted path) and message for people. */
export class PduError extends Error {
  /** M_TOO_LARGE for the size limits, M_BAD_JSON otherwise (400 on the client API). */
  readonly errcode: 'M_TOO_LARGE' | 'M_BAD_JSON';
  constructor(
    readonly code: PduErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'PduError';
    this.errcode = code === 'too_large' || code === 'field_too_long' ? 'M_TOO_LARGE' : 'M_BAD_JSON';
  }
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isInt = (v: Json | undefined): v is number => typeof v === 'number' && Number.isInteger(v);

function checkReferences(ev: JsonObject, field: 'prev_events' | 'auth_events', version: RoomVersion): PduError | undefined {
  const refs = ev[field];
  if (refs === undefined) return new PduError('missing_field', field, 'required');
  if (!Array.isArray(refs)) return new PduError('wrong_type', field, 'must be an array');
  const max = field === 'prev_events' ? MAX_PREV_EVENTS : MAX_AUTH_EVENTS;
  if (refs.length > max) {
    return new PduError(field === 'prev_events' ? 'too_many_prev_events' : 'too_many_auth_events', field, `at most ${max} entries`);
  }
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i];
    const path = `${field}[${i}]`;
    let id: Json | undefined = ref;
    if (version.eventReferencesAreHashes) {
      // v1–v2: [event_id, {sha256: "…"}]
      if (!Array.isArray(ref) || ref.length !== 2 || !isObject(ref[1])) {
        return new PduError('bad_reference', path, 'must be an [event_id, {sha256}] pair');
      }
      if (ref[1].sha256 !== undefined && typeof ref[1].sha256 !== 'string') return new PduError('bad_reference', path, 'sha256 must be a string');
      id = ref[0];
    }
    if (typeof id !== 'string' || !parseEventId(id, version)) {
      return new PduError('bad_reference', path, `not a room version ${version.id} event ID`);
    }
  }
  return undefined;
}

/**
 * Check that `value` is a well-formed PDU for `version`. Returns the first problem found, or
 * undefined if it is valid. Checks: canonical JSON (strictly from v6), total size, per-field byte
 * limits, required fields and their types, identifier grammar of sender/room_id/event_id,
 * prev_events/auth_events shape (hash pairs in v1–v2, IDs from v3) and counts (≤20, ≤10), and that
 * a v12 m.room.create has no room_id while every other event has one.
 */
export function checkPdu(value: unknown, version: RoomVersion): PduError | undefined {
  if (!isObject(value as Json)) return new PduError('not_object', '', 'a PDU is a JSON object');
  const ev = value as JsonObject;

  let size: number;
  try {
    if (version.strictCanonicalJson) assertCanonicalJsonCompatible(ev);
    size = utf8Length(canonicalJson(ev, { strict: false }));
  } catch (e) {
    if (e instanceof CanonicalJsonError) return new PduError('bad_json', e.path, e.message);
    throw e;
  }
  if (size > MAX_PDU_BYTES) return new PduError('too_large', '', `event is ${size} bytes, the limit is ${MAX_PDU_BYTES}`);

  for (const [field, max] of [['sender', MAX_ID_BYTES], ['room_id', MAX_ID_BYTES], ['event_id', MAX_ID_BYTES], ['state_key', MAX_KEY_BYTES], ['type', MAX_KEY_BYTES]] as const) {
    const v = ev[field];
    if (typeof v === 'string' && utf8Length(v) > max) return new PduError('field_too_long', field, `longer than ${max} bytes`);
  }

  for (const field of ['type', 'sender'] as const) {
    if (ev[field] === undefined) return new PduError('missing_field', field, 'required');
    if (typeof ev[field] !== 'string') return new PduError('wrong_type', field, 'must be a string');
  }
  if (ev.state_key !== undefined && typeof ev.state_key !== 'string') return new PduError('wrong_type', 'state_key', 'must be a string');
  if (ev.content === undefined) return new PduError('missing_field', 'content', 'required');
  if (!isObject(ev.content)) return new PduError('wrong_type', 'content', 'must be an object');
  for (const field of ['origin_server_ts', 'depth'] as const) {
    if (ev[field] === undefined) return new PduError('missing_field', field, 'required');
    if (!isInt(ev[field])) return new PduError('wrong_type', field, 'must be an integer');
  }
  if (ev.hashes === undefined) return new PduError('missing_field', 'hashes', 'required');
  if (!isObject(ev.hashes) || typeof ev.hashes.sha256 !== 'string') return new PduError('wrong_type', 'hashes', 'must be an object with a sha256 string');
  if (ev.signatures === undefined) return new PduError('missing_field', 'signatures', 'required');
  if (!isObject(ev.signatures) || !Object.values(ev.signatures).every((s) => isObject(s) && Object.values(s).every((x) => typeof x === 'string'))) {
    return new PduError('wrong_type', 'signatures', 'must map server names to objects of key ID → signature');
  }
  if (ev.unsigned !== undefined && !isObject(ev.unsigned)) return new PduError('wrong_type', 'unsigned', 'must be an object');
  if (!version.redactsInContent && ev.redacts !== undefined && typeof ev.redacts !== 'string') {
    return new PduError('wrong_type', 'redacts', 'must be a string');
  }

  if (!parseUserId(ev.sender as string)) return new PduError('bad_identifier', 'sender', 'not a user ID');

  // Room ID: required on every event, except that a v12 create event must not have one.
  const isV12Create = version.roomIdFromCreateEvent && ev.type === 'm.room.create';
  if (isV12Create) {
    if (ev.room_id !== undefined) return new PduError('unexpected_field', 'room_id', 'a v12 m.room.create event has no room_id');
  } else {
    if (ev.room_id === undefined) return new PduError('missing_field', 'room_id', 'required');
    if (typeof ev.room_id !== 'string') return new PduError('wrong_type', 'room_id', 'must be a string');
    if (!parseRoomId(ev.room_id, version)) return new PduError('bad_identifier', 'room_id', `not a room version ${version.id} room ID`);
  }

  // v1–v2 carry the origin-assigned event ID; from v3 it is computed, so only its length matters.
  if (version.eventIdFormat === 'v1') {
    if (ev.event_id === undefined) return new PduError('missing_field', 'event_id', 'required in room versions 1 and 2');
    if (typeof ev.event_id !== 'string' || !parseEventId(ev.event_id, version)) return new PduError('bad_identifier', 'event_id', 'not a $opaque:domain event ID');
  }

  return checkReferences(ev, 'prev_events', version) ?? checkReferences(ev, 'auth_events', version);
}

/** checkPdu that throws the PduError; narrows `value` to Pdu. */
export function assertPdu(value: unknown, version: RoomVersion): asserts value is Pdu {
  const err = checkPdu(value, version);
  if (err) throw err;
}

// --- content checks used by the authorisation rules ---------------------------------------------

/**
 * Read a power level as a number the way the room version allows: integers always; before v10
 * also strings holding an integer (`" +100 "`, `"0050"`) (v1-stringy-power-levels); in v1–v5 also
 * floats, truncated (v1-floaty-power-levels). Undefined if the value is not acceptable.
 */
export function parsePowerLevelValue(value: Json | undefined, version: RoomVersion): number | undefined {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    if (!version.strictCanonicalJson && Number.isFinite(value)) return Math.trunc(value);
    return undefined;
  }
  if (typeof value === 'string' && !version.integerPowerLevels) {
    const m = /^\s*([+-]?[0-9]+)\s*$/.exec(value);
    return m ? Number.parseInt(m[1]!, 10) : undefined;
  }
  return undefined;
}

const PL_SCALARS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;

/**
 * The m.room.power_levels content rules of the auth rules (v10 rules 9.1–9.3, v12 10.1–10.4):
 * from v10 the scalar levels and `events`/`notifications` values must be integers; in every
 * version `users` must map valid user IDs to levels (strings/floats allowed before v10/v6).
 * In v12, pass the room's creators: they must not appear in `users`.
 * Returns a reason to reject, or undefined.
 */
export function checkPowerLevelsContent(content: JsonObject, version: RoomVersion, creators: readonly string[] = []): string | undefined {
  if (version.integerPowerLevels) {
    for (const k of PL_SCALARS) {
      if (content[k] !== undefined && !isInt(content[k])) return `${k} must be an integer`;
    }
    for (const k of ['events', 'notifications'] as const) {
      const v = content[k];
      if (v !== undefined && (!isObject(v) || !Object.values(v).every(isInt))) return `${k} must be an object of integers`;
    }
  }
  const users = content.users;
  if (users !== undefined) {
    if (!isObject(users)) return 'users must be an object';
    for (const [user, level] of Object.entries(users)) {
      if (!parseUserId(user)) return `users: ${user} is not a user ID`;
      if (parsePowerLevelValue(level, version) === undefined) return `users: level of ${user} is not an integer`;
      if (version.privilegedCreators && creators.includes(user)) return `users: ${user} is a room creator`;
    }
  }
  return undefined;
}

/**
 * v12 m.room.create rules beyond the format (auth rules 1.2 and 1.4): no `room_id`, and
 * `additional_creators`, if present, an array of strings that each pass the user ID validation
 * applied to `sender`. Returns a reason to reject, or undefined (always undefined before v12).
 */
export function checkCreateEvent(event: JsonObject | Pdu, version: RoomVersion): string | undefined {
  if (!version.privilegedCreators && !version.roomIdFromCreateEvent) return undefined;
  const ev = event as JsonObject;
  if (version.roomIdFromCreateEvent && ev.room_id !== undefined) return 'a v12 create event must not have a room_id';
  const content = isObject(ev.content) ? ev.content : {};
  const extra = content.additional_creators;
  if (version.privilegedCreators && extra !== undefined) {
    if (!Array.isArray(extra)) return 'additional_creators must be an array';
    for (const u of extra) if (typeof u !== 'string' || !parseUserId(u)) return `additional_creators: ${String(u)} is not a user ID`;
  }
  return undefined;
}
