/**
 * Server-side search (modules/search.md, search.yaml): room_events over content.body,
 * content.name and content.topic with SQLite FTS5, ranked (bm25) or by recency, in the rooms the
 * user is joined to, with optional context and profiles, paginated by offset (`next_batch`).
 */
import type { JsonObject } from '../protocol/pdu-types.ts';
import { badJson, invalidParam } from '../http/errors.ts';
import type { SearchStore, SearchKey } from '../storage/search-store.ts';
import type { RoomCore } from './rooms/core.ts';
import type { Visibility } from './rooms/visibility.ts';
import type { RoomReads } from './rooms/room-reads.ts';
import type { Viewer } from './events/client-format.ts';
import type { SearchIndexer } from './search-indexer.ts';
import { parseFilter, matchesRoom, matchesEventFilter } from './sync/filter.ts';

const KEYS: SearchKey[] = ['content.body', 'content.name', 'content.topic'];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A user's words as an FTS5 expression: every word must appear (each quoted, so operators are literal). */
export function ftsQuery(term: string): string | undefined {
  const words = term.split(/\s+/).map((w) => w.replace(/"/g, '')).filter((w) => w.length > 0);
  if (words.length === 0) return undefined;
  return words.map((w) => `"${w}"`).join(' AND ');
}

export class Search {
  constructor(
    private readonly core: RoomCore,
    private readonly store: SearchStore,
    private readonly vis: Visibility,
    private readonly reads: RoomReads,
    private readonly indexer: SearchIndexer,
  ) {}

  async search(viewer: Viewer, body: Record<string, unknown>, nextBatch: string | undefined): Promise<JsonObject> {
    const cats = body.search_categories;
    if (!isObject(cats)) throw badJson('search_categories is required');
    const re = cats.room_events;
    if (re === undefined) return { search_categories: {} };
    if (!isObject(re) || typeof re.search_term !== 'string') throw badJson('room_events.search_term is required');
    const keys = re.keys === undefined ? KEYS : re.keys;
    if (!Array.isArray(keys) || !keys.every((k) => KEYS.includes(k as SearchKey))) throw badJson('keys must be content.body, content.name or content.topic');
    const order = re.order_by === undefined ? 'rank' : re.order_by;
    if (order !== 'rank' && order !== 'recent') throw badJson("order_by must be 'rank' or 'recent'");
    const filter = re.filter === undefined ? undefined : parseFilter({ room: { timeline: re.filter } }).room?.timeline;
    let offset = 0;
    if (nextBatch !== undefined) {
      const m = /^o(\d+)$/.exec(nextBatch);
      if (!m) throw invalidParam('Invalid next_batch');
      offset = Number(m[1]);
    }
    const limit = Math.min(filter?.limit ?? 10, 100);
    const joined = (await this.core.state.roomsOfUser(viewer.userId)).filter((r) => r.membership === 'join').map((r) => r.room_id);
    const roomIds = joined.filter((r) => matchesRoom(filter, r));
    const query = ftsQuery(re.search_term);
    const empty = { search_categories: { room_events: { count: 0, highlights: [], results: [] } } };
    if (!query || roomIds.length === 0) return empty;

    // Everything committed so far is searchable.
    await this.indexer.catchUp();
    let found;
    try {
      found = await this.store.search(query, { roomIds, keys: keys as SearchKey[], order: order as 'rank' | 'recent', limit: limit * 2, offset });
    } catch {
      return empty; // a term FTS5 cannot parse matches nothing
    }
    const evs = await this.core.eventCache.getMany(found.rows.map((r) => r.event_id));
    const candidates = found.rows
      .map((r) => evs.get(r.event_id))
      .filter((e): e is NonNullable<typeof e> => !!e && matchesEventFilter(filter, e.type, e.sender, e.pdu.content));
    const visible = new Set((await this.vis.filter(viewer.userId, candidates)).map((e) => e.eventId));
    const ranks = new Map(found.rows.map((r) => [r.event_id, r.rank]));
    const results: JsonObject[] = [];
    let consumed = 0;
    for (const r of found.rows) {
      consumed++;
      const ev = evs.get(r.event_id);
      if (!ev || !visible.has(ev.eventId)) continue;
      const item: JsonObject = { rank: -(ranks.get(ev.eventId) ?? 0), result: await this.core.serializer.one(ev, viewer) };
      const ctxReq = re.event_context;
      if (isObject(ctxReq)) item.context = await this.context(viewer, ev.roomId, ev.eventId, ctxReq);
      results.push(item);
      if (results.length >= limit) break;
    }
    const out: JsonObject = {
      count: found.count,
      highlights: re.search_term.split(/\s+/).filter(Boolean),
      results,
    };
    if (offset + consumed < found.count) out.next_batch = `o${offset + consumed}`;
    if (re.include_state === true) {
      const state: JsonObject = {};
      for (const roomId of new Set(results.map((r) => ((r.result as JsonObject).room_id as string)))) {
        state[roomId] = await this.reads.state(viewer, roomId);
      }
      out.state = state;
    }
    return { search_categories: { room_events: out } };
  }

  private async context(viewer: Viewer, roomId: string, eventId: string, req: Record<string, unknown>): Promise<JsonObject> {
    const before = typeof req.before_limit === 'number' ? Math.min(Math.max(0, req.before_limit), 20) : 5;
    const after = typeof req.after_limit === 'number' ? Math.min(Math.max(0, req.after_limit), 20) : 5;
    const ev = (await this.core.eventCache.get(eventId))!;
    const b = await this.reads.messages(viewer, { roomId, dir: 'b', from: ev.streamOrdering - 1, limit: before });
    const f = await this.reads.messages(viewer, { roomId, dir: 'f', from: ev.streamOrdering, limit: after });
    const out: JsonObject = { events_before: b.chunk!, events_after: f.chunk! };
    if (b.end) out.start = b.end;
    if (f.end) out.end = f.end;
    if (req.include_profile === true) {
      const state = await this.core.stateCache.get(ev.stateAfter ?? ev.stateBefore!);
      const senders = new Set([ev.sender, ...[...(b.chunk as JsonObject[]), ...(f.chunk as JsonObject[])].map((e) => e.sender as string)]);
      const info: JsonObject = {};
      for (const u of senders) {
        const m = await this.core.stateEvent(state, 'm.room.member', u);
        const c = m?.pdu.content ?? {};
        const p: JsonObject = {};
        if (typeof c.displayname === 'string') p.displayname = c.displayname;
        if (typeof c.avatar_url === 'string') p.avatar_url = c.avatar_url;
        info[u] = p;
      }
      out.profile_info = info;
    }
    return out;
  }
}
