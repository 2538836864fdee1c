/**
 * The `rooms` part of /sync for one user between two event positions (from, to]:
 * - join: the timeline (newest `limit` visible events; `limited` + `prev_batch` when more exist),
 *   the state at the start of the timeline (initial sync, newly joined rooms, full_state) or the
 *   state delta since `from` (a client offline for a week gets a limited timeline plus every state
 *   change it missed), and a summary (heroes, member counts);
 * - invite / knock: stripped state ("invite_state") when the invite arrived in the window;
 * - leave: newly left rooms (always in an incremental sync; with include_leave in an initial sync),
 *   their timeline up to the leave event.
 * Sources (typing, receipts, account data) add to the same room objects afterwards.
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { Visibility } from '../rooms/visibility.ts';
import type { StoredEvent } from '../events/event-cache.ts';
import { sk, type StateSnapshot } from '../state/state-cache.ts';
import { matchesEventFilter, matchesRoom, projectFields, type FilterDefinition } from './filter.ts';
import { paginationToken } from './token.ts';
import type { SyncResponse } from './response.ts';

export const DEFAULT_TIMELINE_LIMIT = 10;
/** Cap on timeline.limit so one request cannot ask for everything. */
export const MAX_TIMELINE_LIMIT = 500;

/** State types shown in invite_state / knock_state ("Stripped state"). */
const STRIPPED_TYPES = ['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.avatar', 'm.room.canonical_alias', 'm.room.encryption', 'm.room.topic'];

export interface RoomSyncRequest {
  userId: string;
  deviceId: string | null;
  /** null: initial sync. */
  from: number | null;
  to: number;
  filter: FilterDefinition;
  fullState: boolean;
  ignored: ReadonlySet<string>;
  forgotten: ReadonlySet<string>;
  response: SyncResponse;
}

export interface RoomSyncResult {
  /** Rooms the user is joined to at `to` (after the room filter). */
  joined: Set<string>;
  /** Joined rooms that are new to the client (joined in the window, or initial sync). */
  newlyJoined: Set<string>;
}

interface Plan {
  roomId: string;
  membership: string;
  memStream: number;
  memEventId: string;
}

export class RoomSync {
  constructor(
    private readonly core: RoomCore,
    private readonly vis: Visibility,
  ) {}

  async run(req: RoomSyncRequest): Promise<RoomSyncResult> {
    const { userId, from, to } = req;
    const roomFilter = req.filter.room;
    const rows = await this.core.roomsOfUser(userId);
    const plans: Plan[] = [];
    for (const r of rows) {
      if (!matchesRoom(roomFilter, r.room_id)) continue;
      let p: Plan = { roomId: r.room_id, membership: r.membership, memStream: r.stream_ordering, memEventId: r.event_id };
      if (r.stream_ordering > to) {
        // The membership changed after this response's upper bound: use the one in force at `to`.
        const at = await this.core.events.membershipAt(userId, r.room_id, to);
        if (!at) continue;
        const m = JSON.parse(at.json).content?.membership;
        p = { roomId: r.room_id, membership: typeof m === 'string' ? m : 'leave', memStream: at.stream_ordering, memEventId: at.event_id };
      }
      plans.push(p);
    }

    const joined = new Set<string>();
    const newlyJoined = new Set<string>();
    const tlFilter = roomFilter?.timeline;
    const limit = Math.min(tlFilter?.limit ?? DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT);

    // Windows: (lower, upper] per room.
    const windows: Array<{ plan: Plan; lower: number | null; upper: number; full: boolean }> = [];
    for (const p of plans) {
      const isNew = from === null || p.memStream > from;
      if (p.membership === 'join') {
        joined.add(p.roomId);
        const full = isNew || req.fullState;
        if (isNew) newlyJoined.add(p.roomId);
        windows.push({ plan: p, lower: isNew ? null : from, upper: to, full });
      } else if (p.membership === 'invite' || p.membership === 'knock') {
        if (isNew || req.fullState) await this.strippedState(req, p);
      } else if (p.membership === 'leave' || p.membership === 'ban') {
        if (req.forgotten.has(p.roomId)) continue;
        const include = from === null ? roomFilter?.include_leave === true : p.memStream > from || (req.fullState && roomFilter?.include_leave === true);
        if (!include) continue;
        // A rejected invite or a leave from a room never joined shows only the leave event.
        windows.push({ plan: p, lower: from === null || req.fullState ? null : from, upper: p.memStream, full: from === null || req.fullState || p.memStream > (from ?? 0) });
      }
    }
    if (windows.length === 0) return { joined, newlyJoined };

    // One query fetches the newest limit+1 rows of every room sharing a window.
    const groups = new Map<string, typeof windows>();
    for (const w of windows) {
      const key = `${w.lower}|${w.upper}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(w);
    }
    // IDs only: recent events are nearly always in the event cache; the rest come in one query.
    const rowsByRoom = new Map<string, StoredEvent[]>();
    for (const g of groups.values()) {
      const lower = g[0]!.lower;
      const upper = g[0]!.upper;
      // A recent `since` (a long-poll that just woke up): the new events are in memory.
      const recent = lower !== null ? this.core.recent.perRoom(new Set(g.map((w) => w.plan.roomId)), lower, upper, limit + 1) : undefined;
      const ids = recent
        ? [...recent].flatMap(([room_id, list]) => list.map((event_id) => ({ room_id, event_id })))
        : await this.core.events.latestIdsPerRoom(g.map((w) => w.plan.roomId), lower, upper, limit + 1);
      const evs = await this.core.eventCache.getMany(ids.map((r) => r.event_id));
      for (const r of ids) {
        const ev = evs.get(r.event_id);
        if (!ev) continue;
        let list = rowsByRoom.get(r.room_id);
        if (!list) rowsByRoom.set(r.room_id, (list = []));
        list.push(ev);
      }
    }

    // Warm the event cache with the current state of every room that gets full state, in one
    // query rather than one per room (the first sync after a restart finds the cache cold).
    const warm: string[] = [];
    const lazy = req.filter.room?.state?.lazy_load_members === true;
    for (const w of windows) {
      if (!w.full) continue;
      const state = await this.core.currentState(w.plan.roomId);
      if (!state) continue;
      for (const [key, id] of state.map) {
        // Lazy-loading clients get only a few member events: do not load a big room's members.
        if (lazy && key.startsWith('m.room.member\u0000')) continue;
        if (!this.core.eventCache.peek(id)) warm.push(id);
      }
    }
    if (warm.length) await this.core.eventCache.getMany(warm);

    for (const w of windows) {
      const raw = rowsByRoom.get(w.plan.roomId) ?? [];
      if (!w.full && raw.length === 0 && w.plan.membership === 'join') continue; // nothing new in this room
      await this.room(req, w.plan, w.lower, w.upper, w.full, raw, limit);
    }
    return { joined, newlyJoined };
  }

  /** Builds one room's section from its newest rows (newest first). */
  private async room(req: RoomSyncRequest, p: Plan, lower: number | null, upper: number, full: boolean, raw: StoredEvent[], limit: number): Promise<void> {
    // Walk back from the newest rows, keeping visible ones, until `limit` are kept. `limited`
    // when some event in the window is left out (older than the kept ones).
    let timeline: StoredEvent[] = [];
    let limited = false;
    // Some event of the window was left out (filtered or invisible): its state changes must
    // then come through `state` rather than the timeline.
    let dropped = false;
    let page = raw;
    let fetched = limit + 1;
    for (;;) {
      const keep = new Set((await this.visibleTimeline(req, page)).map((e) => e.eventId));
      let i = 0;
      for (; i < page.length && timeline.length < limit; i++) {
        if (keep.has(page[i]!.eventId)) timeline.push(page[i]!);
        else dropped = true;
      }
      if (timeline.length >= limit) {
        limited = i < page.length || page.length === fetched;
        break;
      }
      if (page.length < fetched || page.length === 0) break;
      const next = page[page.length - 1]!.streamOrdering - 1;
      fetched = limit * 2 + 1;
      page = this.core.eventCache.fromRows(await this.core.events.timeline(p.roomId, 'b', next, fetched, lower ?? undefined));
    }
    timeline.reverse(); // oldest first

    const first = timeline[0];
    const prevBatch = paginationToken(first ? first.streamOrdering - 1 : upper);

    // State at the start of the timeline.
    let startState: StateSnapshot | undefined;
    if (first) {
      startState = await this.core.stateCache.get(first.stateBefore ?? first.stateAfter!);
    } else {
      const last = await this.core.events.lastBefore(p.roomId, upper);
      if (last?.state_after) startState = await this.core.stateCache.get(last.state_after);
    }
    let stateIds: string[] = [];
    if (startState) {
      if (full) {
        stateIds = [...startState.map.values()];
      } else if (limited || dropped || timeline.length === 0) {
        // Every state change between `from` and the start of the timeline.
        const before = await this.core.events.lastBefore(p.roomId, lower ?? 0);
        const fromState = before?.state_after ? await this.core.stateCache.get(before.state_after) : undefined;
        if (!fromState || fromState.group !== startState.group) {
          for (const [key, id] of startState.map) if (fromState?.map.get(key) !== id) stateIds.push(id);
        }
      }
    }
    const stFilter = req.filter.room?.state;
    const timelineIds = new Set(timeline.map((e) => e.eventId));
    if (stFilter?.lazy_load_members && startState) {
      // Lazy-loading: member events only for timeline senders (and, when the client gets the
      // room's state afresh, the user), nothing else membership-wise.
      const wanted = new Set(timeline.map((e) => e.sender));
      if (full) wanted.add(req.userId);
      stateIds = stateIds.filter((id) => {
        const ev = this.core.eventCache.peek(id);
        return !ev || ev.type !== 'm.room.member' || wanted.has(ev.stateKey ?? '');
      });
      for (const u of wanted) {
        const id = startState.map.get(sk('m.room.member', u));
        if (id && !stateIds.includes(id)) stateIds.push(id);
      }
    }
    const stateEvents = [...(await this.core.eventCache.getMany(stateIds)).values()].filter(
      (e) => !timelineIds.has(e.eventId) && matchesEventFilter(stFilter, e.type, e.sender, e.pdu.content),
    );

    // Nothing the client can see changed in this room.
    if (!full && timeline.length === 0 && stateEvents.length === 0 && p.membership === 'join') return;
    const viewer = { userId: req.userId, deviceId: req.deviceId };
    const fields = req.filter.event_fields;
    const ser = async (evs: StoredEvent[]) =>
      (await this.core.serializer.many(evs, viewer, { omitRoomId: true })).map((e) => projectFields(e, fields) as JsonObject);
    if (p.membership === 'join') {
      const section = req.response.joinRoom(p.roomId, prevBatch);
      section.timeline = { events: await ser(timeline), limited, prev_batch: prevBatch };
      section.state.events = await ser(stateEvents);
      const current = await this.core.currentState(p.roomId);
      if (current && (full || stateEvents.some((e) => e.type === 'm.room.member') || timeline.some((e) => e.type === 'm.room.member'))) {
        section.summary = summary(current, req.userId);
      }
    } else {
      const section = req.response.leaveRoom(p.roomId, prevBatch);
      section.timeline = { events: await ser(timeline), limited, prev_batch: prevBatch };
      section.state.events = await ser(stateEvents);
    }
  }

  /** Visibility, ignored users and the timeline filter, preserving order. */
  private async visibleTimeline(req: RoomSyncRequest, evs: StoredEvent[]): Promise<StoredEvent[]> {
    const f = req.filter.room?.timeline;
    const kept = evs.filter(
      (e) => !(req.ignored.has(e.sender) && e.stateKey === undefined) && matchesEventFilter(f, e.type, e.sender, e.pdu.content),
    );
    return this.vis.filter(req.userId, kept);
  }

  private async strippedState(req: RoomSyncRequest, p: Plan): Promise<void> {
    const inviteEv = await this.core.eventCache.get(p.memEventId);
    if (!inviteEv) return;
    if (p.membership === 'invite' && req.ignored.has(inviteEv.sender)) return;
    const snap = inviteEv.stateAfter !== null ? await this.core.stateCache.get(inviteEv.stateAfter) : undefined;
    const ids = snap ? STRIPPED_TYPES.map((t) => snap.get(t)).filter((x): x is string => !!x) : [];
    const evs = await this.core.eventCache.getMany(ids);
    const events: JsonObject[] = [];
    for (const id of ids) {
      const e = evs.get(id);
      if (e) events.push({ type: e.type, state_key: e.stateKey ?? '', content: e.pdu.content, sender: e.sender });
    }
    // A remote invite or knock carries the stripped state the other server gave (stored by federation).
    const carried = inviteEv.unsignedExtra?.[p.membership === 'invite' ? 'invite_room_state' : 'knock_room_state'];
    if (Array.isArray(carried)) {
      for (const c of carried) {
        if (typeof c !== 'object' || c === null || Array.isArray(c)) continue;
        if (!events.some((e) => e.type === c.type && e.state_key === c.state_key)) events.push(c);
      }
    }
    const [member] = await this.core.serializer.many([inviteEv], { userId: req.userId, deviceId: req.deviceId }, { omitRoomId: true });
    events.push(member!);
    if (p.membership === 'invite') req.response.invite.set(p.roomId, { invite_state: { events } });
    else req.response.knock.set(p.roomId, { knock_state: { events } });
  }
}

/** Room summary ("Lazy-loading room members"): heroes and member counts. */
export function summary(state: StateSnapshot, userId: string): JsonObject {
  let joined = 0;
  let invited = 0;
  const heroes: string[] = [];
  const others: string[] = [];
  for (const [u, m] of state.members) {
    if (m === 'join') joined++;
    else if (m === 'invite') invited++;
    if (u === userId) continue;
    if (m === 'join' || m === 'invite') heroes.push(u);
    else if (m === 'leave' || m === 'ban') others.push(u);
  }
  heroes.sort();
  others.sort();
  return {
    'm.heroes': (heroes.length ? heroes : others).slice(0, 5),
    'm.joined_member_count': joined,
    'm.invited_member_count': invited,
  };
}
