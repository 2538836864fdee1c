/**
 * GET /v1/rooms/{roomId}/hierarchy (modules/spaces.md, space_hierarchy.yaml): the space tree walked
 * depth-first over m.space.child state events (with a non-empty `via`), for rooms this server
 * knows. A room is listed if the user may see it: joined, world_readable, or joinable/knockable
 * (public, knock, knock_restricted or restricted join rules). Rooms only other servers know are
 * skipped (federation can fill them in through `remote`). Pagination: `from` = "h<offset>".
 */
import type { JsonObject } from '../protocol/pdu-types.ts';
import { forbidden, invalidParam, notFound } from '../http/errors.ts';
import type { RoomCore } from './rooms/core.ts';
import type { Directory } from './directory.ts';

export const MAX_HIERARCHY_DEPTH = 10;
export const MAX_HIERARCHY_LIMIT = 100;

export class Hierarchy {
  /** Federation fills this to describe rooms only other servers know. */
  remote: ((roomId: string, via: string[]) => Promise<JsonObject | undefined>) | null = null;

  constructor(
    private readonly core: RoomCore,
    private readonly directory: Directory,
  ) {}

  private async visible(userId: string, roomId: string): Promise<boolean> {
    const state = await this.core.currentState(roomId);
    if (!state) return false;
    if (state.membership(userId) === 'join' || state.membership(userId) === 'invite') return true;
    const hv = (await this.core.stateContent(state, 'm.room.history_visibility'))?.history_visibility;
    if (hv === 'world_readable') return true;
    const jr = (await this.core.stateContent(state, 'm.room.join_rules'))?.join_rule;
    return jr === 'public' || jr === 'knock' || jr === 'knock_restricted' || jr === 'restricted';
  }

  async walk(userId: string, roomId: string, o: { suggestedOnly: boolean; limit: number; maxDepth: number; from?: string }): Promise<JsonObject> {
    if (!(await this.core.currentState(roomId))) throw notFound('Unknown room');
    if (!(await this.visible(userId, roomId))) throw forbidden('You cannot see this space');
    let offset = 0;
    if (o.from !== undefined) {
      const m = /^h(\d+)$/.exec(o.from);
      if (!m) throw invalidParam('Invalid from token');
      offset = Number(m[1]);
    }
    const limit = Math.max(1, Math.min(o.limit, MAX_HIERARCHY_LIMIT));
    const maxDepth = Math.max(0, Math.min(o.maxDepth, MAX_HIERARCHY_DEPTH));
    const rooms: JsonObject[] = [];
    const seen = new Set<string>();
    let index = 0;
    let more = false;
    const visit = async (id: string, depth: number, via: string[]): Promise<void> => {
      if (seen.has(id) || more) return;
      seen.add(id);
      const state = await this.core.currentState(id);
      let entry: JsonObject | undefined;
      const children: Array<{ id: string; via: string[] }> = [];
      if (state && (await this.visible(userId, id))) {
        entry = (await this.directory.entry(id)) ?? { room_id: id };
        const childState: JsonObject[] = [];
        for (const [key, evId] of state.map) {
          if (!key.startsWith('m.space.child\u0000')) continue;
          const ev = await this.core.eventCache.get(evId);
          const content = ev?.pdu.content;
          const v = content?.via;
          if (!ev || !Array.isArray(v) || v.length === 0 || ev.redactedBy) continue;
          if (o.suggestedOnly && content!.suggested !== true) continue;
          childState.push({ type: ev.type, state_key: ev.stateKey!, content: content!, sender: ev.sender, origin_server_ts: ev.originServerTs });
          children.push({ id: ev.stateKey!, via: v.filter((x): x is string => typeof x === 'string') });
        }
        entry.children_state = childState;
      } else if (!state && this.remote) {
        entry = await this.remote(id, via);
      }
      if (!entry) return;
      if (index >= offset) {
        if (rooms.length >= limit) {
          more = true;
          return;
        }
        rooms.push(entry);
      }
      index++;
      if (depth < maxDepth) for (const c of children) await visit(c.id, depth + 1, c.via);
    };
    await visit(roomId, 0, []);
    const out: JsonObject = { rooms };
    if (more) out.next_batch = `h${offset + rooms.length}`;
    return out;
  }
}
