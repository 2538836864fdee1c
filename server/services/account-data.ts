/**
 * Account data (client-server-api "Client Config", modules/account_data.md), room tags
 * (modules/tags.md, stored as the room's m.tag), read markers' m.fully_read, ignored users
 * (m.ignored_user_list, modules/ignore_users.md) and m.push_rules as the push-rules area changes
 * them. Sync stream key `a`.
 */
import type { JsonObject } from '../protocol/pdu-types.ts';
import type { AccountDataStore } from '../storage/account-data-store.ts';
import type { Database } from '../storage/db.ts';
import type { Notifier } from './notifier.ts';
import { StreamCounter } from './streams.ts';
import type { SyncSource, SyncSourceContext } from './sync/sources.ts';
import { matchesEventFilter } from './sync/filter.ts';
import { StreamChangeCache } from './sync/change-cache.ts';

export const GLOBAL = '';

export class AccountData {
  readonly stream: StreamCounter;
  private ignoredCache = new Map<string, ReadonlySet<string>>();
  /** Returns the push rules shown as m.push_rules when the user has no stored copy. */
  defaultPushRules: ((userId: string) => Promise<JsonObject>) | null = null;
  /** Called after commit with (userId, roomId, type) — e.g. ignore-list changes. */
  readonly onChanged: Array<(userId: string, roomId: string, type: string) => void> = [];
  /** Users whose account data changed, by position: /sync skips the query for the others. */
  private readonly userChanges: StreamChangeCache;

  constructor(
    private readonly db: Database,
    private readonly store: AccountDataStore,
    private readonly notifier: Notifier,
    streamStart: number,
  ) {
    this.stream = new StreamCounter(streamStart);
    this.userChanges = new StreamChangeCache(streamStart);
  }

  async get(userId: string, roomId: string, type: string): Promise<JsonObject | undefined> {
    const raw = await this.store.get(userId, roomId, type);
    return raw === undefined ? undefined : (JSON.parse(raw) as JsonObject);
  }

  async put(userId: string, roomId: string, type: string, content: JsonObject): Promise<void> {
    const json = JSON.stringify(content);
    await this.db.write(async (tx) => {
      const pos = this.stream.allocate();
      await this.store.put(tx, { user_id: userId, room_id: roomId, type, content: json, stream_id: pos });
      tx.afterCommit(() => {
        this.userChanges.changed(userId, pos);
        this.stream.committed(pos);
        if (type === 'm.ignored_user_list' && roomId === GLOBAL) this.ignoredCache.delete(userId);
        for (const f of this.onChanged) f(userId, roomId, type);
        this.notifier.notifyUser(userId);
      });
    });
  }

  /** Users `userId` ignores (m.ignored_user_list), cached. */
  async ignoredUsers(userId: string): Promise<ReadonlySet<string>> {
    const cached = this.ignoredCache.get(userId);
    if (cached) return cached;
    const c = await this.get(userId, GLOBAL, 'm.ignored_user_list');
    const list = c && typeof c.ignored_users === 'object' && c.ignored_users !== null && !Array.isArray(c.ignored_users) ? Object.keys(c.ignored_users) : [];
    const set = new Set(list);
    if (this.ignoredCache.size > 10_000) this.ignoredCache.clear();
    this.ignoredCache.set(userId, set);
    return set;
  }

  syncSource(): SyncSource {
    return {
      key: 'a',
      current: () => this.stream.current,
      collect: (ctx, from, to) => this.collect(ctx, from, to),
    };
  }

  private async collect(ctx: SyncSourceContext, from: number | null, to: number): Promise<boolean> {
    // Nothing changed for this user since the token: no query.
    if (from !== null && ctx.newlyJoined.size === 0 && (to <= from || !this.userChanges.hasChangedSince(ctx.userId, from))) return false;
    const rows = await this.store.changed(ctx.userId, from, to);
    let changed = false;
    const globalFilter = ctx.filter.account_data;
    const roomFilter = ctx.filter.room?.account_data;
    let sawPushRules = false;
    for (const r of rows) {
      const content = JSON.parse(r.content) as JsonObject;
      if (r.room_id === GLOBAL) {
        if (r.type === 'm.push_rules') sawPushRules = true;
        if (!matchesEventFilter(globalFilter, r.type, undefined)) continue;
        ctx.response.accountData.push({ type: r.type, content });
        changed = true;
      } else if (ctx.joinedRooms.has(r.room_id)) {
        if (!matchesEventFilter(roomFilter, r.type, undefined)) continue;
        ctx.response.joinRoom(r.room_id, '').account_data.events.push({ type: r.type, content });
        changed = true;
      }
    }
    if (from === null && !sawPushRules && this.defaultPushRules && matchesEventFilter(globalFilter, 'm.push_rules', undefined)) {
      ctx.response.accountData.push({ type: 'm.push_rules', content: await this.defaultPushRules(ctx.userId) });
    }
    if (from !== null && ctx.newlyJoined.size > 0) {
      // Rooms new to the client get all their account data, including what predates the token.
      for (const r of await this.store.changed(ctx.userId, null, from)) {
        if (r.room_id === GLOBAL || !ctx.newlyJoined.has(r.room_id) || !matchesEventFilter(roomFilter, r.type, undefined)) continue;
        ctx.response.joinRoom(r.room_id, '').account_data.events.push({ type: r.type, content: JSON.parse(r.content) as JsonObject });
      }
    }
    return changed;
  }
}
