/**
 * Relations (relations.yaml, threads_list.yaml; modules event_annotations, event_replacements,
 * reference_relations, threading): children of an event by relation type, and a room's threads
 * ordered by latest activity. Tokens are event stream positions (`s123`).
 */
import type { JsonObject } from '../protocol/pdu-types.ts';
import { notFound } from '../http/errors.ts';
import type { RoomCore } from './rooms/core.ts';
import type { Visibility } from './rooms/visibility.ts';
import type { Viewer } from './events/client-format.ts';
import { paginationToken } from './sync/token.ts';
import type { StoredEvent } from './events/event-cache.ts';

export const MAX_RELATIONS_PAGE = 100;

export class Relations {
  constructor(
    private readonly core: RoomCore,
    private readonly vis: Visibility,
  ) {}

  private async visibleEvent(viewer: Viewer, roomId: string, eventId: string): Promise<StoredEvent> {
    const ev = await this.core.eventCache.get(eventId);
    if (!ev || ev.roomId !== roomId || (await this.vis.filter(viewer.userId, [ev])).length === 0) throw notFound('Event not found');
    return ev;
  }

  async children(
    viewer: Viewer,
    roomId: string,
    eventId: string,
    o: { relType?: string; eventType?: string; dir: 'b' | 'f'; from?: number; to?: number; limit: number; recurse: boolean },
  ): Promise<JsonObject> {
    await this.visibleEvent(viewer, roomId, eventId);
    const limit = Math.max(1, Math.min(o.limit, MAX_RELATIONS_PAGE));
    // Recursion (v1.10): follow relations of relations up to a small depth, e.g. edits of thread replies.
    const depthMax = o.recurse ? 3 : 1;
    let rows = await this.core.relations.children(eventId, { relType: o.relType, eventType: o.eventType, dir: o.dir, from: o.from, limit: limit + 1 });
    let depth = 1;
    if (o.recurse) {
      let frontier = rows.map((r) => r.event_id);
      while (frontier.length && depth < depthMax) {
        const next = [];
        for (const id of frontier) next.push(...(await this.core.relations.children(id, { relType: o.relType, eventType: o.eventType, dir: o.dir, limit: limit + 1 })));
        if (!next.length) break;
        rows = rows.concat(next);
        frontier = next.map((r) => r.event_id);
        depth++;
      }
      rows.sort((a, b) => (o.dir === 'b' ? b.stream_ordering - a.stream_ordering : a.stream_ordering - b.stream_ordering));
    }
    if (o.to !== undefined) rows = rows.filter((r) => (o.dir === 'b' ? r.stream_ordering > o.to! : r.stream_ordering <= o.to!));
    const more = rows.length > limit;
    rows = rows.slice(0, limit);
    const evs = [...(await this.core.eventCache.getMany(rows.map((r) => r.event_id))).values()].sort((a, b) =>
      o.dir === 'b' ? b.streamOrdering - a.streamOrdering : a.streamOrdering - b.streamOrdering,
    );
    const visible = await this.vis.filter(viewer.userId, evs);
    const out: JsonObject = { chunk: await this.core.serializer.many(visible, viewer) };
    if (more && rows.length) {
      const last = rows[rows.length - 1]!.stream_ordering;
      out.next_batch = paginationToken(o.dir === 'b' ? last - 1 : last);
    }
    if (o.from !== undefined) out.prev_batch = paginationToken(o.from);
    if (o.recurse) out.recursion_depth = depth;
    return out;
  }

  async threads(viewer: Viewer, roomId: string, o: { include: 'all' | 'participated'; from?: number; limit: number }): Promise<JsonObject> {
    const state = await this.core.currentState(roomId);
    if (!state) throw notFound('Unknown room');
    const limit = Math.max(1, Math.min(o.limit, MAX_RELATIONS_PAGE));
    const rows = await this.core.relations.threads(roomId, {
      before: o.from !== undefined ? o.from + 1 : undefined,
      limit: limit + 1,
      participant: o.include === 'participated' ? viewer.userId : undefined,
    });
    const page = rows.slice(0, limit);
    const roots = await this.core.eventCache.getMany(page.map((r) => r.relates_to));
    const ordered = page.map((r) => roots.get(r.relates_to)).filter((e): e is StoredEvent => !!e && e.roomId === roomId);
    const visible = await this.vis.filter(viewer.userId, ordered);
    const out: JsonObject = { chunk: await this.core.serializer.many(visible, viewer) };
    if (rows.length > limit) out.next_batch = paginationToken(page[page.length - 1]!.latest - 1);
    return out;
  }
}
