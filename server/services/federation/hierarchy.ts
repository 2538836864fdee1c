/**
 * Space hierarchies (client-server "Spaces", space_hierarchy.yaml in both APIs).
 *
 * - `forServer`: GET /_matrix/federation/v1/hierarchy/{roomId} — one level: the room and those
 *   of its children the requesting server "could feasibly peek/join"; children we know but it
 *   cannot reach are listed in `inaccessible_children`, children we know nothing of are left out.
 * - `forUser`: GET /_matrix/client/v1/rooms/{roomId}/hierarchy — a depth-first walk over
 *   m.space.child links, local state first ("the local data should be used instead of the remote
 *   server's data"), other rooms through the federation endpoint on the `via` servers (answers
 *   cached for a few minutes, as the spec suggests). Pagination keeps the walk's queue in memory
 *   under an opaque token.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import { forbidden, invalidParam, notFound } from '../../http/errors.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { Directory } from '../directory.ts';
import type { StateSnapshot } from '../state/state-cache.ts';
import type { FederationClient } from './client.ts';

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const CACHE_MS = 5 * 60_000;
const CACHE_MAX = 500;
const SESSION_MS = 10 * 60_000;
const SESSIONS_MAX = 1000;
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 100;
export const DEFAULT_MAX_DEPTH = 10;
/** Rooms visited by one walk at most (loops and huge trees stop here). */
const MAX_ROOMS_PER_WALK = 2000;
const REMOTE_TIMEOUT_MS = 10_000;

/** A room's summary plus its m.space.child events, as the federation endpoint carries it. */
export interface RoomEntry {
  summary: JsonObject;
  childrenState: JsonObject[];
}

interface QueueItem {
  roomId: string;
  via: string[];
  depth: number;
}

interface Session {
  userId: string;
  root: string;
  suggestedOnly: boolean;
  maxDepth: number;
  queue: QueueItem[];
  seen: Set<string>;
  /** Summaries learnt from remote answers (children of rooms already walked). */
  known: Map<string, RoomEntry>;
  expires: number;
}

export interface HierarchyDeps {
  core: RoomCore;
  directory: Directory;
  client: FederationClient;
  serverName: () => string;
  now: () => number;
}

/** Valid `order` (spaces.md): at most 50 characters in \x20–\x7E. */
function validOrder(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 50 && /^[\x20-\x7e]*$/.test(v);
}

/** m.space.child events in the spec's display order: `order`, then timestamp, then room ID. */
export function orderChildren(children: JsonObject[]): JsonObject[] {
  return [...children].sort((a, b) => {
    const oa = isObject(a.content) ? a.content.order : undefined;
    const ob = isObject(b.content) ? b.content.order : undefined;
    const va = validOrder(oa);
    const vb = validOrder(ob);
    if (va && vb && oa !== ob) return oa < ob ? -1 : 1;
    if (va !== vb) return va ? -1 : 1;
    const ta = typeof a.origin_server_ts === 'number' ? a.origin_server_ts : 0;
    const tb = typeof b.origin_server_ts === 'number' ? b.origin_server_ts : 0;
    if (ta !== tb) return ta - tb;
    return String(a.state_key) < String(b.state_key) ? -1 : String(a.state_key) > String(b.state_key) ? 1 : 0;
  });
}

/** A child link counts only when its `via` lists at least one server (spaces.md m.space.child). */
function childVia(ev: JsonObject): string[] | undefined {
  const c = ev.content;
  if (!isObject(c) || !Array.isArray(c.via)) return undefined;
  const via = c.via.filter((x): x is string => typeof x === 'string' && x.length > 0);
  return via.length ? via : undefined;
}

/** Checks a remote summary's shape; keeps only what a RoomSummary may hold. */
function cleanRemote(v: unknown): RoomEntry | undefined {
  if (!isObject(v) || typeof v.room_id !== 'string' || !v.room_id.startsWith('!')) return undefined;
  const { children_state, ...summary } = v;
  if (typeof summary.num_joined_members !== 'number') summary.num_joined_members = 0;
  if (typeof summary.world_readable !== 'boolean') summary.world_readable = false;
  if (typeof summary.guest_can_join !== 'boolean') summary.guest_can_join = false;
  const childrenState = Array.isArray(children_state)
    ? children_state.filter((c): c is JsonObject => isObject(c) && c.type === 'm.space.child' && typeof c.state_key === 'string' && isObject(c.content))
    : [];
  return { summary, childrenState };
}

export class SpaceHierarchy {
  private readonly remoteCache = new Map<string, { at: number; room?: RoomEntry; children: RoomEntry[]; inaccessible: string[] }>();
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly d: HierarchyDeps) {}

  // --- local rooms ------------------------------------------------------------------------------

  /** Summary and child events of a room we hold state for. */
  async localEntry(roomId: string, state: StateSnapshot): Promise<RoomEntry | undefined> {
    const summary = await this.d.directory.entry(roomId);
    if (!summary) return undefined;
    const version = await this.d.core.maybeVersionOf(roomId);
    if (version) summary.room_version = version.id;
    const enc = await this.d.core.stateContent(state, 'm.room.encryption');
    if (enc && enc.algorithm === 'm.megolm.v1.aes-sha2') summary.encryption = enc.algorithm;
    const allowed = await this.allowedRooms(state);
    if (allowed.length) summary.allowed_room_ids = allowed;
    const ids: string[] = [];
    for (const [key, id] of state.map) if (key.startsWith('m.space.child\u0000')) ids.push(id);
    const events = await this.d.core.eventCache.getMany(ids);
    const childrenState: JsonObject[] = [];
    for (const id of ids) {
      const ev = events.get(id);
      if (!ev || ev.stateKey === undefined || !childVia({ content: ev.pdu.content })) continue;
      childrenState.push({ type: ev.type, state_key: ev.stateKey, content: ev.pdu.content, sender: ev.sender, origin_server_ts: ev.originServerTs });
    }
    return { summary, childrenState: orderChildren(childrenState) };
  }

  /** Rooms a restricted join rule points at (m.room_membership conditions). */
  private async allowedRooms(state: StateSnapshot): Promise<string[]> {
    const jr = await this.d.core.stateContent(state, 'm.room.join_rules');
    if (!jr || (jr.join_rule !== 'restricted' && jr.join_rule !== 'knock_restricted') || !Array.isArray(jr.allow)) return [];
    return jr.allow.filter((a): a is JsonObject => isObject(a) && a.type === 'm.room_membership' && typeof a.room_id === 'string').map((a) => a.room_id as string);
  }

  /** Is the room open to everyone who asks (joinable, knockable or world-readable)? */
  private static openSummary(s: JsonObject): boolean {
    return s.join_rule === 'public' || s.join_rule === 'knock' || s.join_rule === 'knock_restricted' || s.world_readable === true;
  }

  /** Our state says the server has a member here (joined or invited). */
  private static serverIn(state: StateSnapshot, server: string, memberships: string[]): boolean {
    for (const [u, m] of state.members) if (memberships.includes(m) && serverNameOf(u) === server) return true;
    return false;
  }

  /** Could `origin` peek or join this room (for the federation endpoint)? */
  private async serverMayReach(roomId: string, state: StateSnapshot, entry: RoomEntry, origin: string): Promise<boolean> {
    if (SpaceHierarchy.openSummary(entry.summary)) return true;
    if (SpaceHierarchy.serverIn(state, origin, ['join', 'invite'])) return true;
    for (const allowed of (entry.summary.allowed_room_ids as string[] | undefined) ?? []) {
      const s = allowed === roomId ? state : await this.d.core.currentState(allowed);
      if (s && SpaceHierarchy.serverIn(s, origin, ['join'])) return true;
    }
    return false;
  }

  /** May `userId` see this room in a hierarchy (space_hierarchy.yaml `rooms` conditions)? */
  private async userMaySee(userId: string, summary: JsonObject, state: StateSnapshot | undefined): Promise<boolean> {
    const m = state?.membership(userId);
    if (m === 'join' || m === 'invite') return true;
    if (m === 'ban') return false;
    if (SpaceHierarchy.openSummary(summary)) return true;
    if (summary.join_rule === 'restricted' || summary.join_rule === 'knock_restricted') {
      for (const allowed of Array.isArray(summary.allowed_room_ids) ? summary.allowed_room_ids : []) {
        if (typeof allowed !== 'string') continue;
        const s = await this.d.core.currentState(allowed);
        if (s?.membership(userId) === 'join') return true;
      }
    }
    return false;
  }

  /** Our copy of a room counts when a local user is still joined (otherwise it may be stale). */
  private async liveLocal(roomId: string): Promise<StateSnapshot | undefined> {
    const state = await this.d.core.currentState(roomId);
    if (!state) return undefined;
    return state.localWith(this.d.serverName(), 'join').length > 0 ? state : undefined;
  }

  // --- federation endpoint --------------------------------------------------------------------

  async forServer(origin: string, roomId: string, suggestedOnly: boolean): Promise<JsonObject> {
    // Only rooms we are still in: a copy we no longer follow may be out of date.
    const state = await this.liveLocal(roomId);
    const entry = state ? await this.localEntry(roomId, state) : undefined;
    if (!state || !entry || !(await this.serverMayReach(roomId, state, entry, origin))) throw notFound('Room does not exist or is not reachable');
    const children: JsonObject[] = [];
    const inaccessible: string[] = [];
    for (const ev of entry.childrenState) {
      if (suggestedOnly && (ev.content as JsonObject).suggested !== true) continue;
      const childId = ev.state_key as string;
      const cs = await this.liveLocal(childId);
      const ce = cs ? await this.localEntry(childId, cs) : undefined;
      // Rooms we cannot describe are left out altogether.
      if (!cs || !ce) continue;
      if (await this.serverMayReach(childId, cs, ce, origin)) children.push({ ...ce.summary, children_state: ce.childrenState });
      else inaccessible.push(childId);
    }
    return { room: { ...entry.summary, children_state: entry.childrenState }, children, inaccessible_children: inaccessible };
  }

  // --- remote rooms -----------------------------------------------------------------------------

  /** GET /hierarchy/{roomId} on the `via` servers in turn; answers are cached. */
  async remote(roomId: string, via: string[], suggestedOnly: boolean): Promise<{ room?: RoomEntry; children: RoomEntry[]; inaccessible: string[] } | undefined> {
    const key = `${suggestedOnly ? 's' : 'a'}${roomId}`;
    const hit = this.remoteCache.get(key);
    if (hit && hit.at + CACHE_MS > this.d.now()) return hit;
    const me = this.d.serverName();
    for (const server of [...new Set(via)].filter((v) => v !== me).slice(0, 5)) {
      try {
        const r = await this.d.client.request<JsonObject>(server, 'GET', `/_matrix/federation/v1/hierarchy/${encodeURIComponent(roomId)}`, {
          query: { suggested_only: suggestedOnly },
          timeoutMs: REMOTE_TIMEOUT_MS,
          maxBytes: 4 * 1024 * 1024,
        });
        const room = cleanRemote(r.room);
        if (!room || room.summary.room_id !== roomId) continue;
        const children = Array.isArray(r.children) ? r.children.map(cleanRemote).filter((c): c is RoomEntry => !!c) : [];
        const inaccessible = Array.isArray(r.inaccessible_children) ? r.inaccessible_children.filter((x): x is string => typeof x === 'string') : [];
        const value = { at: this.d.now(), room: { ...room, childrenState: orderChildren(room.childrenState) }, children, inaccessible };
        if (this.remoteCache.size >= CACHE_MAX) this.remoteCache.delete(this.remoteCache.keys().next().value!);
        this.remoteCache.set(key, value);
        return value;
      } catch {
        // Next via server.
      }
    }
    return undefined;
  }

  // --- client endpoint --------------------------------------------------------------------------

  async forUser(
    userId: string,
    roomId: string,
    o: { suggestedOnly: boolean; limit: number; maxDepth: number; from?: string },
  ): Promise<JsonObject> {
    this.prune();
    let session: Session;
    let token: string;
    if (o.from !== undefined) {
      const s = this.sessions.get(o.from);
      if (!s || s.userId !== userId || s.root !== roomId) throw invalidParam('Unknown pagination token');
      if (s.suggestedOnly !== o.suggestedOnly || s.maxDepth !== o.maxDepth) throw invalidParam('suggested_only and max_depth cannot change on paginated requests');
      this.sessions.delete(o.from);
      session = s;
      token = o.from;
    } else {
      // The root must be visible to the user, locally or through a remote server.
      const state = await this.d.core.currentState(roomId);
      const via = state ? [] : [serverNameOf(roomId) ?? ''].filter(Boolean);
      session = { userId, root: roomId, suggestedOnly: o.suggestedOnly, maxDepth: o.maxDepth, queue: [{ roomId, via, depth: 0 }], seen: new Set(), known: new Map(), expires: 0 };
      token = randomBytes(12).toString('base64url');
    }
    const rooms: JsonObject[] = [];
    let first = o.from === undefined;
    while (session.queue.length && rooms.length < o.limit && session.seen.size < MAX_ROOMS_PER_WALK) {
      const item = session.queue.shift()!;
      if (session.seen.has(item.roomId)) continue;
      session.seen.add(item.roomId);
      const entry = await this.entryForUser(session, item);
      if (!entry) {
        if (first) throw forbidden('You are not allowed to view this room');
        continue;
      }
      first = false;
      const children = session.suggestedOnly ? entry.childrenState.filter((c) => (c.content as JsonObject).suggested === true) : entry.childrenState;
      rooms.push({ ...entry.summary, children_state: entry.childrenState });
      if (item.depth < session.maxDepth) {
        const next: QueueItem[] = [];
        for (const c of children) {
          const via = childVia(c);
          if (via && !session.seen.has(c.state_key as string)) next.push({ roomId: c.state_key as string, via, depth: item.depth + 1 });
        }
        // Depth first: a room's children come before its later siblings.
        session.queue.unshift(...next);
      }
    }
    const out: JsonObject = { rooms };
    if (session.queue.length && session.seen.size < MAX_ROOMS_PER_WALK) {
      session.expires = this.d.now() + SESSION_MS;
      if (this.sessions.size >= SESSIONS_MAX) this.sessions.delete(this.sessions.keys().next().value!);
      this.sessions.set(token, session);
      out.next_batch = token;
    }
    return out;
  }

  /** The room's entry as the user may see it, or undefined (unknown or not visible). */
  private async entryForUser(session: Session, item: QueueItem): Promise<RoomEntry | undefined> {
    const userId = session.userId;
    const live = await this.liveLocal(item.roomId);
    if (live) {
      const e = await this.localEntry(item.roomId, live);
      return e && (await this.userMaySee(userId, e.summary, live)) ? e : undefined;
    }
    let entry = session.known.get(item.roomId);
    // A child summary from the parent's answer lacks nothing we need unless it is a space.
    if (!entry || entry.summary.room_type === 'm.space') {
      const r = await this.remote(item.roomId, [...item.via, ...(serverNameOf(item.roomId) ? [serverNameOf(item.roomId)!] : [])], session.suggestedOnly);
      if (r?.room) {
        entry = r.room;
        for (const c of r.children) if (!session.known.has(c.summary.room_id as string)) session.known.set(c.summary.room_id as string, c);
        for (const id of r.inaccessible) session.seen.add(id);
      }
    }
    // Nothing remote: a copy we no longer take part in is still better than nothing.
    const stale = entry ? undefined : await this.d.core.currentState(item.roomId);
    if (!entry && stale) entry = await this.localEntry(item.roomId, stale);
    if (!entry) return undefined;
    return (await this.userMaySee(userId, entry.summary, stale ?? (await this.d.core.currentState(item.roomId)))) ? entry : undefined;
  }

  private prune(): void {
    const now = this.d.now();
    for (const [k, s] of this.sessions) if (s.expires < now) this.sessions.delete(k);
  }
}
