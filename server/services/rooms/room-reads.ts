/**
 * Reading rooms for clients: /messages (message_pagination.yaml), /context (event_context.yaml),
 * /event, /state, /members, /joined_members, timestamp_to_event. Everything goes through the
 * history-visibility filter; a user who left sees the room as it was when they left.
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { forbidden, notFound } from '../../http/errors.ts';
import type { RoomCore } from './core.ts';
import type { Visibility } from './visibility.ts';
import type { StoredEvent } from '../events/event-cache.ts';
import type { Viewer } from '../events/client-format.ts';
import { sk, type StateSnapshot } from '../state/state-cache.ts';
import { matchesEventFilter, type RoomEventFilter } from '../sync/filter.ts';
import { paginationToken } from '../sync/token.ts';

export const MAX_PAGE = 1000;

export interface MessagesRequest {
  roomId: string;
  dir: 'b' | 'f';
  /** Events position; undefined: the end (dir b) or the start (dir f) of the room. */
  from?: number;
  to?: number;
  limit: number;
  filter?: RoomEventFilter;
}

export class RoomReads {
  /**
   * Set by the federation area: fetch older history from other servers when pagination reaches
   * the oldest event this server has (returns how many events were stored).
   */
  backfill: ((roomId: string, limit: number) => Promise<number>) | null = null;

  constructor(
    private readonly core: RoomCore,
    private readonly vis: Visibility,
    private readonly ignoredUsers: (userId: string) => Promise<ReadonlySet<string>>,
  ) {}

  /**
   * The state the user may see: the current state while joined (or for world_readable rooms),
   * otherwise the state when their membership last changed (e.g. when they left). 403 if never in.
   */
  async visibleState(userId: string, roomId: string): Promise<StateSnapshot> {
    const current = await this.core.currentState(roomId);
    if (!current) throw notFound('Unknown room');
    if (await this.vis.canSeeRoom(userId, roomId)) return current;
    const id = current.get('m.room.member', userId);
    const ev = id ? await this.core.eventCache.get(id) : undefined;
    if (!ev || ev.stateBefore === null) throw forbidden('You are not in this room');
    const m = ev.pdu.content.membership;
    if (m === 'invite' || m === 'knock') throw forbidden('You are not in this room');
    // The state just before leaving (after it they no longer see the room), plus the leave itself.
    return (await this.core.stateCache.get(ev.stateAfter ?? ev.stateBefore));
  }

  /** The user may read the room's history at all (is or was in it, or it is world_readable). */
  private async requireReader(userId: string, roomId: string): Promise<void> {
    await this.visibleState(userId, roomId);
  }

  async messages(viewer: Viewer, r: MessagesRequest): Promise<JsonObject> {
    await this.requireReader(viewer.userId, r.roomId);
    const limit = Math.max(0, Math.min(r.limit, MAX_PAGE));
    const ignored = await this.ignoredUsers(viewer.userId);
    const start = r.from ?? (r.dir === 'b' ? this.core.eventStream.current : -Number.MAX_SAFE_INTEGER);
    const chunk: StoredEvent[] = [];
    let cursor = start;
    let exhausted = false;
    let backfilled = false;
    while (chunk.length < limit) {
      const want = Math.min(MAX_PAGE, (limit - chunk.length) * 2 + 1);
      const rows = await this.core.events.timeline(r.roomId, r.dir, cursor, want, r.to);
      const evs = this.core.eventCache.fromRows(rows);
      if (evs.length === 0) {
        // The oldest event this server has: ask other servers in the room for older history once.
        if (r.dir === 'b' && this.backfill && !backfilled) {
          backfilled = true;
          if ((await this.backfill(r.roomId, limit - chunk.length)) > 0) continue;
        }
        exhausted = true;
        break;
      }
      const candidates = evs.filter(
        (e) => !(ignored.has(e.sender) && e.stateKey === undefined) && matchesEventFilter(r.filter, e.type, e.sender, e.pdu.content),
      );
      const visible = new Set((await this.vis.filter(viewer.userId, candidates)).map((e) => e.eventId));
      let i = 0;
      for (; i < evs.length && chunk.length < limit; i++) if (visible.has(evs[i]!.eventId)) chunk.push(evs[i]!);
      const last = evs[i - 1]!;
      cursor = r.dir === 'b' ? last.streamOrdering - 1 : last.streamOrdering;
      if (rows.length < want && i === evs.length) {
        if (r.dir === 'b' && this.backfill && !backfilled) continue; // next round backfills
        exhausted = true;
        break;
      }
    }
    const out: JsonObject = {
      chunk: await this.core.serializer.many(chunk, viewer),
      start: paginationToken(start === -Number.MAX_SAFE_INTEGER ? 0 : start),
    };
    // "If no further events are available … this property is omitted from the response."
    if (!exhausted) out.end = paginationToken(cursor);
    if (r.filter?.lazy_load_members && chunk.length) out.state = await this.memberStateFor(viewer, chunk);
    return out;
  }

  /** Member events of the senders of `events`, at the oldest of them (lazy-loading). */
  private async memberStateFor(viewer: Viewer, events: StoredEvent[]): Promise<JsonObject[]> {
    const senders = new Set(events.map((e) => e.sender));
    const oldest = events.reduce((a, b) => (a.streamOrdering < b.streamOrdering ? a : b));
    const snap = await this.core.stateCache.get(oldest.stateBefore ?? oldest.stateAfter!);
    const ids = [...senders].map((u) => snap.get('m.room.member', u)).filter((x): x is string => !!x);
    const evs = [...(await this.core.eventCache.getMany(ids)).values()];
    return this.core.serializer.many(evs, viewer);
  }

  /** GET /event/{eventId}: 404 when unknown or not visible. */
  async event(viewer: Viewer, roomId: string, eventId: string): Promise<JsonObject> {
    const ev = await this.core.eventCache.get(eventId);
    if (!ev || ev.roomId !== roomId || ev.outlier || ev.rejected) throw notFound('Event not found');
    const visible = await this.vis.filter(viewer.userId, [ev]);
    if (visible.length === 0) throw notFound('Event not found');
    return this.core.serializer.one(ev, viewer);
  }

  async context(viewer: Viewer, roomId: string, eventId: string, limit: number, filter?: RoomEventFilter): Promise<JsonObject> {
    const ev = await this.core.eventCache.get(eventId);
    if (!ev || ev.roomId !== roomId || ev.outlier || ev.rejected || (await this.vis.filter(viewer.userId, [ev])).length === 0) {
      throw notFound('Event not found');
    }
    const half = Math.min(MAX_PAGE, limit);
    const before = Math.floor(half / 2);
    const after = half - before;
    const b = await this.messages(viewer, { roomId, dir: 'b', from: ev.streamOrdering - 1, limit: before, filter });
    const f = await this.messages(viewer, { roomId, dir: 'f', from: ev.streamOrdering, limit: after, filter });
    const beforeChunk = b.chunk as JsonObject[];
    const afterChunk = f.chunk as JsonObject[];
    // State at the last event returned.
    const lastId = afterChunk.length ? (afterChunk[afterChunk.length - 1]!.event_id as string) : eventId;
    const last = (await this.core.eventCache.get(lastId))!;
    const snap = await this.core.stateCache.get(last.stateAfter ?? last.stateBefore!);
    let ids = [...snap.map.values()];
    if (filter?.lazy_load_members) {
      const senders = new Set([ev.sender, ...[...beforeChunk, ...afterChunk].map((e) => e.sender as string)]);
      ids = [...snap.map].filter(([k]) => !k.startsWith('m.room.member\u0000') || senders.has(k.slice('m.room.member\u0000'.length))).map(([, id]) => id);
    }
    const stateEvents = [...(await this.core.eventCache.getMany(ids)).values()];
    return {
      event: await this.core.serializer.one(ev, viewer),
      events_before: beforeChunk,
      events_after: afterChunk,
      start: b.end ?? paginationToken(ev.streamOrdering - 1),
      end: f.end ?? paginationToken(Math.max(ev.streamOrdering, this.core.eventStream.current)),
      state: await this.core.serializer.many(stateEvents, viewer),
    };
  }

  async state(viewer: Viewer, roomId: string): Promise<JsonObject[]> {
    const snap = await this.visibleState(viewer.userId, roomId);
    const evs = [...(await this.core.eventCache.getMany(snap.map.values())).values()];
    return this.core.serializer.many(evs, viewer);
  }

  async stateEvent(viewer: Viewer, roomId: string, type: string, stateKey: string): Promise<StoredEvent> {
    const snap = await this.visibleState(viewer.userId, roomId);
    const id = snap.map.get(sk(type, stateKey));
    const ev = id ? await this.core.eventCache.get(id) : undefined;
    if (!ev) throw notFound('Event not found');
    return ev;
  }

  /** GET /members: member events at `at` (a token position) or now, filtered by membership. */
  async members(viewer: Viewer, roomId: string, o: { at?: number; membership?: string; notMembership?: string }): Promise<JsonObject[]> {
    let snap = await this.visibleState(viewer.userId, roomId);
    if (o.at !== undefined) {
      const last = await this.core.events.lastBefore(roomId, o.at);
      if (last?.state_after) {
        const atSnap = await this.core.stateCache.get(last.state_after);
        // Not beyond what the user may see (e.g. after they left).
        if (atSnap.group <= snap.group) snap = atSnap;
      }
    }
    const ids: string[] = [];
    for (const [u, m] of snap.members) {
      if (o.membership && m !== o.membership) continue;
      if (o.notMembership && m === o.notMembership) continue;
      const id = snap.get('m.room.member', u);
      if (id) ids.push(id);
    }
    const evs = [...(await this.core.eventCache.getMany(ids)).values()];
    return this.core.serializer.many(evs, viewer);
  }

  /** GET /joined_members: only for members (403 otherwise). */
  async joinedMembers(userId: string, roomId: string): Promise<JsonObject> {
    const snap = await this.core.currentState(roomId);
    if (!snap) throw notFound('Unknown room');
    if (snap.membership(userId) !== 'join') throw forbidden('You are not joined to this room');
    const joined: JsonObject = {};
    const ids = snap.joined().map((u) => snap.get('m.room.member', u)!).filter(Boolean);
    for (const ev of (await this.core.eventCache.getMany(ids)).values()) {
      const c = ev.pdu.content;
      const entry: JsonObject = {};
      if (typeof c.displayname === 'string') entry.display_name = c.displayname;
      if (typeof c.avatar_url === 'string') entry.avatar_url = c.avatar_url;
      joined[ev.stateKey!] = entry;
    }
    return { joined };
  }

  /** GET /v1/rooms/{roomId}/timestamp_to_event. */
  async timestampToEvent(userId: string, roomId: string, ts: number, dir: 'b' | 'f'): Promise<JsonObject> {
    await this.requireReader(userId, roomId);
    const row = await this.core.events.closestToTs(roomId, ts, dir);
    if (!row) throw notFound('No event found');
    return { event_id: row.event_id, origin_server_ts: row.origin_server_ts };
  }
}
