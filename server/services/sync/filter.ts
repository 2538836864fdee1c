/**
 * Filters (client-server-api "Filtering", filter.yaml): parsed once into matchers. Unknown keys are
 * ignored; wrong types are 400 M_BAD_JSON (stored filters are validated when created).
 */
import { badJson } from '../../http/errors.ts';

export interface EventFilter {
  limit?: number;
  types?: string[];
  not_types?: string[];
  senders?: string[];
  not_senders?: string[];
}

export interface RoomEventFilter extends EventFilter {
  rooms?: string[];
  not_rooms?: string[];
  contains_url?: boolean;
  lazy_load_members?: boolean;
  include_redundant_members?: boolean;
  unread_thread_notifications?: boolean;
}

export interface FilterDefinition {
  event_fields?: string[];
  event_format?: 'client' | 'federation';
  presence?: EventFilter;
  account_data?: EventFilter;
  room?: {
    rooms?: string[];
    not_rooms?: string[];
    include_leave?: boolean;
    timeline?: RoomEventFilter;
    state?: RoomEventFilter;
    ephemeral?: RoomEventFilter;
    account_data?: RoomEventFilter;
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function strings(v: unknown, name: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badJson(`${name} must be a list of strings`);
  return v as string[];
}

function bool(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badJson(`${name} must be a boolean`);
  return v;
}

function eventFilter(v: unknown, name: string): RoomEventFilter | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw badJson(`${name} must be an object`);
  const f: RoomEventFilter = {};
  if (v.limit !== undefined && v.limit !== null) {
    if (typeof v.limit !== 'number' || !Number.isInteger(v.limit) || v.limit < 0) throw badJson(`${name}.limit must be a non-negative integer`);
    f.limit = v.limit;
  }
  for (const k of ['types', 'not_types', 'senders', 'not_senders', 'rooms', 'not_rooms'] as const) {
    const s = strings(v[k], `${name}.${k}`);
    if (s) f[k] = s;
  }
  for (const k of ['contains_url', 'lazy_load_members', 'include_redundant_members', 'unread_thread_notifications'] as const) {
    const b = bool(v[k], `${name}.${k}`);
    if (b !== undefined) f[k] = b;
  }
  return f;
}

/** Validates and normalises a filter definition (throws 400 M_BAD_JSON). */
export function parseFilter(v: unknown): FilterDefinition {
  if (!isObject(v)) throw badJson('A filter must be a JSON object');
  const f: FilterDefinition = {};
  const fields = strings(v.event_fields, 'event_fields');
  if (fields) f.event_fields = fields;
  if (v.event_format !== undefined) {
    if (v.event_format !== 'client' && v.event_format !== 'federation') throw badJson("event_format must be 'client' or 'federation'");
    f.event_format = v.event_format;
  }
  const presence = eventFilter(v.presence, 'presence');
  if (presence) f.presence = presence;
  const ad = eventFilter(v.account_data, 'account_data');
  if (ad) f.account_data = ad;
  if (v.room !== undefined && v.room !== null) {
    if (!isObject(v.room)) throw badJson('room must be an object');
    const r = v.room;
    f.room = {};
    const rooms = strings(r.rooms, 'room.rooms');
    if (rooms) f.room.rooms = rooms;
    const notRooms = strings(r.not_rooms, 'room.not_rooms');
    if (notRooms) f.room.not_rooms = notRooms;
    const leave = bool(r.include_leave, 'room.include_leave');
    if (leave !== undefined) f.room.include_leave = leave;
    for (const k of ['timeline', 'state', 'ephemeral', 'account_data'] as const) {
      const ef = eventFilter(r[k], `room.${k}`);
      if (ef) f.room[k] = ef;
    }
  }
  return f;
}

/** Glob match with `*` as "any sequence" (filter types/senders). */
function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(value);
}

/** Does an event (type, sender, content) pass an event filter? */
export function matchesEventFilter(f: EventFilter | undefined, type: string, sender: string | undefined, content?: Record<string, unknown>): boolean {
  if (!f) return true;
  if (f.not_types?.some((p) => globMatch(p, type))) return false;
  if (f.types && !f.types.some((p) => globMatch(p, type))) return false;
  if (sender !== undefined) {
    if (f.not_senders?.includes(sender)) return false;
    if (f.senders && !f.senders.includes(sender)) return false;
  }
  const cu = (f as RoomEventFilter).contains_url;
  if (cu !== undefined && content) {
    const has = typeof content.url === 'string';
    if (has !== cu) return false;
  }
  return true;
}

/** Does a room pass rooms/not_rooms lists? */
export function matchesRoom(f: { rooms?: string[]; not_rooms?: string[] } | undefined, roomId: string): boolean {
  if (!f) return true;
  if (f.not_rooms?.includes(roomId)) return false;
  if (f.rooms && !f.rooms.includes(roomId)) return false;
  return true;
}

/** Keep only the dotted `event_fields` of a serialized event ("Filtering": event_fields). */
export function projectFields(ev: Record<string, unknown>, fields: string[] | undefined): Record<string, unknown> {
  if (!fields || fields.length === 0) return ev;
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    // Dots separate levels; "\." is a literal dot.
    const path = field.split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, '.'));
    let src: unknown = ev;
    for (const p of path) src = isObject(src) ? src[p] : undefined;
    if (src === undefined) continue;
    let dst = out;
    for (const p of path.slice(0, -1)) {
      if (!isObject(dst[p])) dst[p] = {};
      dst = dst[p] as Record<string, unknown>;
    }
    dst[path[path.length - 1]!] = src;
  }
  return out;
}
