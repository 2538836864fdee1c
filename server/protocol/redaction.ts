/**
 * The redaction algorithms (rooms/fragments/v1-redactions.md, v6-, v9-, v11-redactions.md and
 * rooms/v8.md "Redactions"). Redaction strips an event down to what the protocol needs; it is
 * also the first step of signing and of the reference hash, so it must be exact per version.
 */
import type { Json, JsonObject, Pdu } from './pdu-types.ts';
import type { RedactionAlgorithm, RoomVersion } from './room-versions.ts';

/** Top-level keys kept by v1 (used by v1–v10: v6, v8 and v9 change only content rules). */
const TOP_LEVEL_V1 = [
  'event_id', 'type', 'room_id', 'sender', 'state_key', 'content', 'hashes', 'signatures', 'depth',
  'prev_events', 'prev_state', 'auth_events', 'origin', 'origin_server_ts', 'membership',
] as const;
/** v11 drops `prev_state`, `origin` and `membership`. */
const TOP_LEVEL_V11 = [
  'event_id', 'type', 'room_id', 'sender', 'state_key', 'content', 'hashes', 'signatures', 'depth',
  'prev_events', 'auth_events', 'origin_server_ts',
] as const;

const POWER_LEVELS_V1 = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];

type ContentRules = Readonly<Record<string, readonly string[] | 'all'>>;

const CONTENT_V1: ContentRules = {
  'm.room.member': ['membership'],
  'm.room.create': ['creator'],
  'm.room.join_rules': ['join_rule'],
  'm.room.power_levels': POWER_LEVELS_V1,
  'm.room.aliases': ['aliases'],
  'm.room.history_visibility': ['history_visibility'],
};
// v6: m.room.aliases content is no longer protected.
const { 'm.room.aliases': _aliases, ...CONTENT_V6 } = CONTENT_V1;
// v8: join rules keep `allow` (restricted rooms).
const CONTENT_V8: ContentRules = { ...CONTENT_V6, 'm.room.join_rules': ['join_rule', 'allow'] };
// v9: member events keep `join_authorised_via_users_server`.
const CONTENT_V9: ContentRules = { ...CONTENT_V8, 'm.room.member': ['membership', 'join_authorised_via_users_server'] };
// v11: create keeps everything, power levels keep `invite`, redaction keeps `redacts`;
// member's third_party_invite keeps only `signed` (handled below).
const CONTENT_V11: ContentRules = {
  ...CONTENT_V9,
  'm.room.create': 'all',
  'm.room.power_levels': [...POWER_LEVELS_V1, 'invite'],
  'm.room.redaction': ['redacts'],
};

const RULES: Record<RedactionAlgorithm, { top: readonly string[]; content: ContentRules }> = {
  v1: { top: TOP_LEVEL_V1, content: CONTENT_V1 },
  v6: { top: TOP_LEVEL_V1, content: CONTENT_V6 },
  v8: { top: TOP_LEVEL_V1, content: CONTENT_V8 },
  v9: { top: TOP_LEVEL_V1, content: CONTENT_V9 },
  v11: { top: TOP_LEVEL_V11, content: CONTENT_V11 },
};

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function redactContent(type: Json | undefined, content: Json | undefined, algorithm: RedactionAlgorithm): JsonObject {
  const out: JsonObject = {};
  if (!isObject(content) || typeof type !== 'string' || !Object.hasOwn(RULES[algorithm].content, type)) return out;
  const keep = RULES[algorithm].content[type]!;
  if (keep === 'all') return { ...content };
  for (const k of keep) if (Object.hasOwn(content, k)) out[k] = content[k]!;
  if (algorithm === 'v11' && type === 'm.room.member' && isObject(content.third_party_invite)) {
    // v11: "allows the `signed` key of the `third_party_invite` key" — the object stays, holding only `signed`.
    const tpi = content.third_party_invite;
    out.third_party_invite = Object.hasOwn(tpi, 'signed') ? { signed: tpi.signed! } : {};
  }
  return out;
}

/**
 * Redact an event per the room version's algorithm. Returns a new object: only the kept top-level
 * keys, and `content` reduced to the kept keys for its type (always present, `{}` if nothing is
 * kept). `unsigned` is dropped too; callers serving clients add `redacted_because` themselves.
 * Works on any JSON object so malformed remote events can still be redacted for signature checks.
 */
export function redact<T extends JsonObject | Pdu>(event: T, version: RoomVersion): T {
  const algorithm = version.redaction;
  const source = event as JsonObject;
  const out: JsonObject = {};
  for (const k of RULES[algorithm].top) {
    if (k === 'content') continue;
    if (Object.hasOwn(source, k) && source[k] !== undefined) out[k] = source[k]!;
  }
  out.content = redactContent(source.type, source.content, algorithm);
  return out as T;
}

/** The content keys `redact` keeps for an event type in a version ('all' or a list; [] if none). */
export function keptContentKeys(type: string, version: RoomVersion): readonly string[] | 'all' {
  const rules = RULES[version.redaction].content;
  return Object.hasOwn(rules, type) ? rules[type]! : [];
}
