/**
 * Room versions 1–12 as data: every rule that differs between versions is a named flag here,
 * so protocol code asks `version.knock` instead of comparing version strings.
 * Source: ../shared/matrix-spec/content/rooms/v1.md … v12.md and rooms/fragments/.
 */

export type EventIdFormat = 'v1' | 'v3' | 'v4';
export type StateResAlgorithm = 'v1' | 'v2' | 'v2.1';
export type RedactionAlgorithm = 'v1' | 'v6' | 'v8' | 'v9' | 'v11';

export interface RoomVersion {
  readonly id: string;
  /** v1–v2: `$localpart:server` chosen by the origin; v3: standard base64 of the reference hash; v4+: URL-safe. */
  readonly eventIdFormat: EventIdFormat;
  /** v1: state res v1; v2–v11: v2; v12: v2 with the v12 changes (empty initial state, conflicted subgraph). */
  readonly stateRes: StateResAlgorithm;
  /** Which list of kept keys the redaction algorithm uses. */
  readonly redaction: RedactionAlgorithm;
  /** v5+: a signing key may only verify events whose origin_server_ts is before its valid_until_ts. */
  readonly enforceKeyValidity: boolean;
  /** v6+: canonical JSON is enforced strictly (integers in [-(2^53)+1, 2^53-1], no floats). */
  readonly strictCanonicalJson: boolean;
  /** v1–v5: `m.room.aliases` has its own auth rule (allowed if state_key equals sender's server). */
  readonly specialCaseAliasesAuth: boolean;
  /** v1–v2: `m.room.redaction` has its own auth rule (redact level, or same event-ID domain); v3+ only "handling redactions". */
  readonly redactionAuthRule: boolean;
  /** v6+: the `notifications` key of power levels is checked in the power-levels auth rule. */
  readonly limitNotificationsPowerLevels: boolean;
  /** v7+: the `knock` membership and join rule exist. */
  readonly knock: boolean;
  /** v8+: the `restricted` join rule with `join_authorised_via_users_server`. */
  readonly restrictedJoinRule: boolean;
  /** v10+: the `knock_restricted` join rule. */
  readonly knockRestrictedJoinRule: boolean;
  /** v10+: power-level values must be integers (no strings such as "50"). */
  readonly integerPowerLevels: boolean;
  /** v11+: `creator` is gone from m.room.create content; the creator is the event's sender. */
  readonly implicitCreator: boolean;
  /** v11+: `redacts` lives in the content of m.room.redaction (top-level key kept for compat). */
  readonly redactsInContent: boolean;
  /** v1–v2: prev_events/auth_events are `[event_id, {sha256}]` pairs; v3+: plain event ID lists. */
  readonly eventReferencesAreHashes: boolean;
  /** v12: the room ID is `!` + URL-safe base64 of the create event's reference hash; the create event has no room_id. */
  readonly roomIdFromCreateEvent: boolean;
  /** v12: the create sender and `additional_creators` have infinite power and cannot appear in power levels. */
  readonly privilegedCreators: boolean;
}

const v1: RoomVersion = {
  id: '1',
  eventIdFormat: 'v1',
  stateRes: 'v1',
  redaction: 'v1',
  enforceKeyValidity: false,
  strictCanonicalJson: false,
  specialCaseAliasesAuth: true,
  redactionAuthRule: true,
  limitNotificationsPowerLevels: false,
  knock: false,
  restrictedJoinRule: false,
  knockRestrictedJoinRule: false,
  integerPowerLevels: false,
  implicitCreator: false,
  redactsInContent: false,
  eventReferencesAreHashes: true,
  roomIdFromCreateEvent: false,
  privilegedCreators: false,
};
const v2: RoomVersion = { ...v1, id: '2', stateRes: 'v2' };
const v3: RoomVersion = { ...v2, id: '3', eventIdFormat: 'v3', eventReferencesAreHashes: false, redactionAuthRule: false };
const v4: RoomVersion = { ...v3, id: '4', eventIdFormat: 'v4' };
const v5: RoomVersion = { ...v4, id: '5', enforceKeyValidity: true };
const v6: RoomVersion = {
  ...v5,
  id: '6',
  redaction: 'v6',
  strictCanonicalJson: true,
  specialCaseAliasesAuth: false,
  limitNotificationsPowerLevels: true,
};
const v7: RoomVersion = { ...v6, id: '7', knock: true };
const v8: RoomVersion = { ...v7, id: '8', redaction: 'v8', restrictedJoinRule: true };
const v9: RoomVersion = { ...v8, id: '9', redaction: 'v9' };
const v10: RoomVersion = { ...v9, id: '10', knockRestrictedJoinRule: true, integerPowerLevels: true };
const v11: RoomVersion = { ...v10, id: '11', redaction: 'v11', implicitCreator: true, redactsInContent: true };
const v12: RoomVersion = { ...v11, id: '12', stateRes: 'v2.1', roomIdFromCreateEvent: true, privilegedCreators: true };

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersion> = new Map(
  [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12].map((v) => [v.id, v]),
);

/** The version new rooms get unless the client asks otherwise (spec recommends the newest stable). */
export const DEFAULT_ROOM_VERSION = '12';

export function getRoomVersion(id: string): RoomVersion | undefined {
  return ROOM_VERSIONS.get(id);
}
