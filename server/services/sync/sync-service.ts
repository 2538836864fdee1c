/**
 * GET /sync (client-server-api "Syncing", sync.yaml).
 *
 * Token: `s<events>_<key><pos>…` — the room-events position plus one position per registered
 * stream source (token.ts, sources.ts). A response covers (since, to] for every stream, where
 * `to` is each stream's committed position when the computation starts; next_batch is `to`.
 * Because positions are published only after their rows commit (streams.ts), every row is in
 * exactly one response: tokens never skip or repeat events, however sends interleave.
 *
 * Long-poll: a listener on the notifier is registered before each computation; if the response
 * is empty the request waits for that listener (a change that committed during the computation
 * has already fired it), the timeout, or shutdown, then computes again with a fresh `to`.
 *
 * Extension (E2EE): `registerSource({key, current, collect})` adds a stream (to_device, device
 * lists, one-time key counts…); collect writes into the SyncResponse (toDevice, deviceLists,
 * extra) and returns whether it added a change.
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { PushActionsStore } from '../../storage/push-actions-store.ts';
import type { FiltersStore } from '../../storage/filters-store.ts';
import { badJson, notFound } from '../../http/errors.ts';
import type { AccountData } from '../account-data.ts';
import type { Presence } from '../presence.ts';
import type { RoomSync } from './room-sync.ts';
import { SyncResponse } from './response.ts';
import { parseFilter, type FilterDefinition } from './filter.ts';
import type { SyncSource, SyncSourceContext } from './sources.ts';
import { EVENTS_KEY, formatStreamToken, paginationToken, parseStreamToken } from './token.ts';
import { StreamChangeCache } from './change-cache.ts';

/** Longest long-poll honoured. */
export const MAX_SYNC_TIMEOUT_MS = 60_000;

export interface SyncRequest {
  userId: string;
  deviceId: string | null;
  since?: string;
  timeoutMs: number;
  fullState: boolean;
  filter: FilterDefinition;
  setPresence?: string;
  signal?: AbortSignal;
}

export class SyncService {
  private readonly sources: SyncSource[] = [];
  private readonly filterCache = new Map<string, FilterDefinition>();
  /** Events positions of committed m.room.member events, by room and by the member's user ID. */
  private readonly membersByRoom: StreamChangeCache;
  private readonly membersByUser: StreamChangeCache;

  constructor(
    private readonly core: RoomCore,
    private readonly rooms: RoomSync,
    private readonly accountData: AccountData,
    private readonly pushActions: PushActionsStore,
    private readonly filters: FiltersStore,
    private readonly presence: Presence,
  ) {
    this.membersByRoom = new StreamChangeCache(core.eventStream.current);
    this.membersByUser = new StreamChangeCache(core.eventStream.current);
    // Every timeline event that commits (local, federated, backfilled) is in an appended list;
    // rejected and soft-failed events are not, and are not timeline membership either.
    core.writer.onCommitted((b) => {
      for (const a of b.appended) {
        const ev = a.event;
        if (ev.type !== 'm.room.member' || ev.stateKey === undefined) continue;
        this.membersByRoom.changed(ev.roomId, ev.streamOrdering);
        this.membersByUser.changed(ev.stateKey, ev.streamOrdering);
      }
    });
  }

  /**
   * False only when no membership event with an events position above `from` concerns `userId`:
   * none about the user, none in a room the user is joined to now (what device_lists'
   * membership part reads, so E2EE can skip its queries).
   */
  async membershipChangedSince(userId: string, from: number): Promise<boolean> {
    if (this.membersByUser.hasChangedSince(userId, from)) return true;
    if (!this.membersByRoom.anyChangedSince(from)) return false;
    for (const r of await this.core.roomsOfUser(userId)) {
      if (r.membership === 'join' && this.membersByRoom.hasChangedSince(r.room_id, from)) return true;
    }
    return false;
  }

  /** Adds a stream to every sync (see the file header). Keys must be unique lowercase letters, not "s". */
  registerSource(source: SyncSource): void {
    if (!/^[a-z]+$/.test(source.key) || source.key === EVENTS_KEY || this.sources.some((s) => s.key === source.key)) {
      throw new Error(`bad or duplicate sync source key ${source.key}`);
    }
    this.sources.push(source);
  }

  /** The current position of every stream. */
  currentToken(): Map<string, number> {
    const t = new Map<string, number>([[EVENTS_KEY, this.core.eventStream.current]]);
    for (const s of this.sources) t.set(s.key, s.current());
    return t;
  }

  // --- filters ---------------------------------------------------------------------------------

  async createFilter(userId: string, body: unknown): Promise<string> {
    const def = parseFilter(body);
    return String(await this.filters.create(userId, JSON.stringify(def)));
  }

  async getFilter(userId: string, filterId: string): Promise<FilterDefinition> {
    if (!/^\d{1,9}$/.test(filterId)) throw notFound('Unknown filter');
    const key = `${userId}|${filterId}`;
    const cached = this.filterCache.get(key);
    if (cached) return cached;
    const json = await this.filters.get(userId, Number(filterId));
    if (json === undefined) throw notFound('Unknown filter');
    const def = JSON.parse(json) as FilterDefinition;
    if (this.filterCache.size > 1000) this.filterCache.clear();
    this.filterCache.set(key, def);
    return def;
  }

  /** The `filter` query parameter: inline JSON or a stored filter's ID. */
  async resolveFilter(userId: string, param: string | undefined): Promise<FilterDefinition> {
    if (param === undefined || param === '') return {};
    if (param.trimStart().startsWith('{')) {
      let v: unknown;
      try {
        v = JSON.parse(param);
      } catch {
        throw badJson('filter is not valid JSON');
      }
      return parseFilter(v);
    }
    return this.getFilter(userId, param);
  }

  // --- sync --------------------------------------------------------------------------------------

  async sync(req: SyncRequest): Promise<JsonObject> {
    const since = req.since !== undefined ? parseStreamToken(req.since) : null;
    if (since && !since.has(EVENTS_KEY)) throw badJson('Invalid since token');
    void this.presence.touch(req.userId, req.setPresence).catch(() => undefined);
    const deadline = Date.now() + Math.min(Math.max(0, req.timeoutMs), MAX_SYNC_TIMEOUT_MS);
    const waitForChanges = since !== null && !req.fullState;
    for (;;) {
      const listener = this.core.notifier.listen(req.userId);
      try {
        const to = this.currentToken();
        if (waitForChanges && sameToken(since!, to)) {
          // Nothing at all happened since the token (the usual long-poll): no need to look; wait.
          const remaining = deadline - Date.now();
          if (remaining > 0 && !req.signal?.aborted && (await listener.wait(remaining, req.signal))) continue;
        }
        const res = await this.compute(req, since, to);
        const remaining = deadline - Date.now();
        if (!waitForChanges || res.hasChanges() || remaining <= 0 || req.signal?.aborted) return res.toJSON();
        const fired = await listener.wait(remaining, req.signal);
        if (!fired) return res.toJSON();
      } finally {
        listener.cancel();
      }
    }
  }

  private async compute(req: SyncRequest, since: Map<string, number> | null, to: Map<string, number>): Promise<SyncResponse> {
    const res = new SyncResponse();
    const toEvents = to.get(EVENTS_KEY)!;
    const fromEvents = since ? Math.min(since.get(EVENTS_KEY)!, toEvents) : null;
    const [ignored, forgotten] = await Promise.all([this.accountData.ignoredUsers(req.userId), this.core.forgottenRooms(req.userId)]);
    const { joined, newlyJoined } = await this.rooms.run({
      userId: req.userId,
      deviceId: req.deviceId,
      from: fromEvents,
      to: toEvents,
      filter: req.filter,
      fullState: req.fullState,
      ignored,
      forgotten,
      response: res,
    });
    const next = new Map(to);
    const ctx: SyncSourceContext = {
      userId: req.userId,
      deviceId: req.deviceId,
      filter: req.filter,
      fullState: req.fullState,
      joinedRooms: joined,
      newlyJoined,
      response: res,
      sinceToken: since,
      toToken: to,
      lowerNextBatch: (key, pos) => {
        if (pos < (next.get(key) ?? Infinity)) next.set(key, pos);
      },
    };
    for (const s of this.sources) {
      const upper = to.get(s.key)!;
      const known = since?.get(s.key);
      // A position beyond the current one comes from before a restart of an in-memory stream.
      const from = known === undefined || req.fullState ? null : Math.min(known, upper);
      await s.collect(ctx, from, upper);
    }
    await this.unreadCounts(req, res);
    const prevBatch = paginationToken(toEvents);
    for (const r of res.join.values()) if (r.timeline.prev_batch === '') r.timeline.prev_batch = prevBatch;
    res.next_batch = formatStreamToken(next);
    return res;
  }

  private async unreadCounts(req: SyncRequest, res: SyncResponse): Promise<void> {
    if (res.join.size === 0) return;
    const rows = await this.pushActions.counts(req.userId, [...res.join.keys()]);
    const threaded = req.filter.room?.timeline?.unread_thread_notifications === true;
    for (const r of res.join.values()) r.unread_notifications = { notification_count: 0, highlight_count: 0 };
    for (const row of rows) {
      const section = res.join.get(row.room_id)!;
      if (threaded && row.thread_id !== '') {
        section.unread_thread_notifications ??= {};
        section.unread_thread_notifications[row.thread_id] = { notification_count: row.notifs, highlight_count: row.highlights };
      } else {
        section.unread_notifications!.notification_count += row.notifs;
        section.unread_notifications!.highlight_count += row.highlights;
      }
    }
  }
}

/** Whether every stream of `to` is where `since` left it. */
function sameToken(since: ReadonlyMap<string, number>, to: ReadonlyMap<string, number>): boolean {
  for (const [k, v] of to) if (since.get(k) !== v) return false;
  return true;
}
