/**
 * Receipts (modules/receipts.md): m.read (shared with the room), m.read.private (only the user's
 * own devices see it), threaded receipts (thread_id: an event ID or "main"). A receipt only moves
 * forward: one for an older event than the current one of the same kind is accepted and ignored.
 * Unread counts (event_push_actions) before a read receipt are dropped. Sync stream key `r`.
 */
import type { JsonObject } from '../protocol/pdu-types.ts';
import type { Database } from '../storage/db.ts';
import type { ReceiptsStore, ReceiptRow } from '../storage/receipts-store.ts';
import type { PushActionsStore } from '../storage/push-actions-store.ts';
import type { Notifier } from './notifier.ts';
import type { RoomCore } from './rooms/core.ts';
import { StreamCounter } from './streams.ts';
import type { SyncSource, SyncSourceContext } from './sync/sources.ts';
import { matchesEventFilter } from './sync/filter.ts';
import { StreamChangeCache } from './sync/change-cache.ts';
import { badJson, forbidden, notFound } from '../http/errors.ts';

export const RECEIPT_TYPES = ['m.read', 'm.read.private'] as const;

export class Receipts {
  readonly stream: StreamCounter;
  /** Observers (the federation area sends m.receipt EDUs for m.read). */
  readonly onChanged: Array<(r: ReceiptRow) => void> = [];
  /** Rooms with new receipts, by position: /sync skips the query when none of the user's rooms has one. */
  private readonly roomChanges: StreamChangeCache;

  constructor(
    private readonly db: Database,
    private readonly core: RoomCore,
    private readonly store: ReceiptsStore,
    private readonly pushActions: PushActionsStore,
    private readonly notifier: Notifier,
    streamStart: number,
  ) {
    this.stream = new StreamCounter(streamStart);
    this.roomChanges = new StreamChangeCache(streamStart);
  }

  /** Records a receipt of `userId` (local or remote) for `eventId`. */
  async put(userId: string, roomId: string, type: string, eventId: string, threadId: string | undefined, ts?: number): Promise<void> {
    if (type !== 'm.read' && type !== 'm.read.private') throw badJson(`Unknown receipt type ${type}`);
    if (threadId !== undefined && (typeof threadId !== 'string' || threadId === '')) throw badJson('thread_id must be a non-empty string');
    const ev = await this.core.eventCache.get(eventId);
    if (!ev || ev.roomId !== roomId || ev.outlier || ev.rejected) throw notFound('Event not found');
    const state = await this.core.currentState(roomId);
    if (state?.membership(userId) !== 'join') throw forbidden('You are not joined to this room');
    const thread = threadId ?? '';
    const now = ts ?? this.core.now();
    await this.db.write(async (tx) => {
      const existing = await this.store.get(tx, roomId, type, userId, thread);
      if (existing && existing.event_stream >= ev.streamOrdering) return;
      const row: ReceiptRow = {
        room_id: roomId,
        receipt_type: type,
        user_id: userId,
        thread_id: thread,
        event_id: eventId,
        event_stream: ev.streamOrdering,
        ts: now,
        stream_id: this.stream.allocate(),
      };
      await this.store.upsert(tx, row);
      if (this.core.isLocalUser(userId)) await this.pushActions.deleteUpTo(tx, userId, roomId, ev.streamOrdering, threadId ?? null);
      tx.afterCommit(() => {
        this.roomChanges.changed(roomId, row.stream_id);
        this.stream.committed(row.stream_id);
        for (const f of this.onChanged) f(row);
        if (type === 'm.read.private') this.notifier.notifyUser(userId);
        else if (state) this.notifier.notifyUsers(state.localWith(this.core.serverName(), 'join'));
      });
    });
  }

  syncSource(): SyncSource {
    return {
      key: 'r',
      current: () => this.stream.current,
      collect: (ctx, from, to) => this.collect(ctx, from, to),
    };
  }

  private async collect(ctx: SyncSourceContext, from: number | null, to: number): Promise<boolean> {
    if (ctx.joinedRooms.size === 0 || !matchesEventFilter(ctx.filter.room?.ephemeral, 'm.receipt', undefined)) return false;
    if (from !== null && ctx.newlyJoined.size === 0) {
      if (to <= from || !this.roomChanges.anyChangedSince(from)) return false;
      let any = false;
      for (const roomId of ctx.joinedRooms) if ((any = this.roomChanges.hasChangedSince(roomId, from))) break;
      if (!any) return false; // receipts moved, but in none of the user's rooms
    }
    const rows: ReceiptRow[] = [];
    if (from === null) rows.push(...(await this.store.changed([...ctx.joinedRooms], null, to)));
    else {
      rows.push(...(await this.store.changed([...ctx.joinedRooms], from, to)));
      const fresh = [...ctx.newlyJoined];
      if (fresh.length) rows.push(...(await this.store.changed(fresh, null, from)));
    }
    const byRoom = new Map<string, JsonObject>();
    for (const r of rows) {
      if (r.receipt_type === 'm.read.private' && r.user_id !== ctx.userId) continue;
      let content = byRoom.get(r.room_id);
      if (!content) byRoom.set(r.room_id, (content = {}));
      const forEvent = (content[r.event_id] ??= {}) as JsonObject;
      const forType = (forEvent[r.receipt_type] ??= {}) as JsonObject;
      forType[r.user_id] = r.thread_id ? { ts: r.ts, thread_id: r.thread_id } : { ts: r.ts };
    }
    for (const [roomId, content] of byRoom) {
      ctx.response.joinRoom(roomId, '').ephemeral.events.push({ type: 'm.receipt', content });
    }
    return byRoom.size > 0;
  }
}
