/**
 * Typing notifications (modules/typing_notifications.md): in memory only, as the spec intends
 * (ephemeral). Each room keeps its typing users with expiry times and the stream position of its
 * last change; /sync sends a room's full m.typing list when it changed since the token.
 * Sync stream key `t` (positions restart at 0 with the process; tokens from before a restart are
 * clamped, and typing state is empty after a restart anyway).
 */
import type { JsonObject } from '../protocol/pdu-types.ts';
import type { Notifier } from './notifier.ts';
import type { RoomCore } from './rooms/core.ts';
import { StreamCounter } from './streams.ts';
import type { SyncSource, SyncSourceContext } from './sync/sources.ts';
import { matchesEventFilter } from './sync/filter.ts';

/** Longest typing timeout honoured (clients usually send 30 s). */
export const MAX_TYPING_MS = 120_000;

interface RoomTyping {
  users: Map<string, { expires: number; timer: NodeJS.Timeout }>;
  changed: number;
}

export class Typing {
  readonly stream = new StreamCounter(0);
  private readonly rooms = new Map<string, RoomTyping>();
  /** Observers of changes (the federation area sends m.typing EDUs from here). */
  readonly onChanged: Array<(roomId: string, userId: string, typing: boolean) => void> = [];

  constructor(
    private readonly core: RoomCore,
    private readonly notifier: Notifier,
  ) {}

  /** Sets a user's typing state in a room (the caller checked membership). */
  async set(roomId: string, userId: string, typing: boolean, timeoutMs: number): Promise<void> {
    let room = this.rooms.get(roomId);
    const existing = room?.users.get(userId);
    if (!typing && !existing) return;
    if (!room) this.rooms.set(roomId, (room = { users: new Map(), changed: 0 }));
    if (existing) clearTimeout(existing.timer);
    if (typing) {
      const ms = Math.min(Math.max(timeoutMs, 0), MAX_TYPING_MS);
      const timer = setTimeout(() => void this.set(roomId, userId, false, 0).catch(() => undefined), ms);
      timer.unref();
      room.users.set(userId, { expires: this.core.now() + ms, timer });
      // Refreshing an ongoing typing notification changes nothing clients see.
      if (existing) return;
    } else {
      room.users.delete(userId);
    }
    room.changed = this.stream.bump();
    for (const f of this.onChanged) f(roomId, userId, typing);
    await this.wake(roomId);
  }

  private async wake(roomId: string): Promise<void> {
    const state = await this.core.currentState(roomId);
    if (state) this.notifier.notifyUsers(state.localWith(this.core.serverName(), 'join'));
  }

  /** Clears every expiry timer (at shutdown). */
  stop(): void {
    for (const room of this.rooms.values()) for (const u of room.users.values()) clearTimeout(u.timer);
    this.rooms.clear();
  }

  typingUsers(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.users.keys() ?? [])];
  }

  syncSource(): SyncSource {
    return {
      key: 't',
      current: () => this.stream.current,
      collect: async (ctx: SyncSourceContext, from: number | null) => {
        if (!matchesEventFilter(ctx.filter.room?.ephemeral, 'm.typing', undefined)) return false;
        let changed = false;
        for (const [roomId, room] of this.rooms) {
          if (!ctx.joinedRooms.has(roomId)) continue;
          const isNew = from === null || ctx.newlyJoined.has(roomId);
          if (isNew ? room.users.size === 0 : room.changed <= from!) continue;
          const content: JsonObject = { user_ids: [...room.users.keys()] };
          ctx.response.joinRoom(roomId, '').ephemeral.events.push({ type: 'm.typing', content });
          changed = true;
        }
        return changed;
      },
    };
  }
}
