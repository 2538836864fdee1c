/**
 * Presence (modules/presence.md), kept cheap for small boards: in memory only; a user is online
 * while syncing (or after PUT /presence), unavailable after 5 minutes without activity, offline
 * after a minute without a /sync request. Only transitions are broadcast (to users sharing a
 * room), not every sync. Disabled entirely with `presence: false`. Sync stream key `p`.
 */
import type { JsonObject } from '../protocol/pdu-types.ts';
import type { StateStore } from '../storage/state-store.ts';
import type { Notifier } from './notifier.ts';
import { StreamCounter } from './streams.ts';
import type { SyncSource, SyncSourceContext } from './sync/sources.ts';
import { matchesEventFilter } from './sync/filter.ts';

export type PresenceValue = 'online' | 'unavailable' | 'offline';
export const PRESENCE_VALUES: readonly string[] = ['online', 'unavailable', 'offline'];

const IDLE_MS = 5 * 60_000;
const OFFLINE_MS = 60_000;

interface UserPresence {
  presence: PresenceValue;
  statusMsg: string | null;
  lastActive: number;
  lastSeen: number;
  /** Stream position of the last change others should see. */
  changed: number;
  /** Set explicitly via PUT /presence (sync's set_presence does not override "unavailable"). */
  explicit: boolean;
}

export class Presence {
  readonly stream = new StreamCounter(0);
  private readonly users = new Map<string, UserPresence>();
  private sweeper: NodeJS.Timeout | null = null;
  /** Observers of visible changes (the federation area sends m.presence EDUs for local users). */
  readonly onChanged: Array<(userId: string) => void> = [];

  constructor(
    readonly enabled: boolean,
    private readonly state: StateStore,
    private readonly notifier: Notifier,
    private readonly now: () => number,
  ) {
    if (enabled) {
      this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), 15_000);
      this.sweeper.unref();
    }
  }

  /** Stops the idle/offline sweep (at shutdown). */
  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** PUT /presence/{userId}/status. */
  async set(userId: string, presence: PresenceValue, statusMsg: string | null | undefined, explicit = true): Promise<void> {
    if (!this.enabled) return;
    const now = this.now();
    const cur = this.users.get(userId);
    const next: UserPresence = {
      presence,
      statusMsg: statusMsg === undefined ? (cur?.statusMsg ?? null) : statusMsg,
      lastActive: presence === 'online' ? now : (cur?.lastActive ?? now),
      lastSeen: now,
      changed: cur?.changed ?? 0,
      explicit,
    };
    const visibleChange = !cur || cur.presence !== next.presence || cur.statusMsg !== next.statusMsg;
    if (visibleChange) next.changed = this.stream.bump();
    this.users.set(userId, next);
    if (visibleChange) {
      for (const f of this.onChanged) f(userId);
      await this.broadcast(userId);
    }
  }

  /** Called on every /sync with its set_presence (default online). */
  async touch(userId: string, setPresence: string | undefined): Promise<void> {
    if (!this.enabled) return;
    const wanted = setPresence === 'offline' || setPresence === 'unavailable' ? setPresence : 'online';
    const cur = this.users.get(userId);
    if (cur && cur.presence === wanted) {
      cur.lastSeen = this.now();
      if (wanted === 'online') cur.lastActive = cur.lastSeen;
      return;
    }
    // An explicit "unavailable" is not overridden by a plain sync.
    if (cur?.explicit && cur.presence === 'unavailable' && setPresence === undefined) {
      cur.lastSeen = this.now();
      return;
    }
    await this.set(userId, wanted, undefined, false);
  }

  get(userId: string): JsonObject {
    const p = this.users.get(userId);
    if (!this.enabled || !p) return { presence: 'offline' };
    const out: JsonObject = { presence: p.presence, last_active_ago: Math.max(0, this.now() - p.lastActive) };
    if (p.presence === 'online') out.currently_active = this.now() - p.lastActive < 60_000;
    if (p.statusMsg !== null) out.status_msg = p.statusMsg;
    return out;
  }

  private async broadcast(userId: string): Promise<void> {
    const others = await this.state.usersSharingRooms(userId);
    this.notifier.notifyUsers(others);
    this.notifier.notifyUser(userId);
  }

  private async sweep(): Promise<void> {
    const now = this.now();
    for (const [userId, p] of this.users) {
      if (p.presence !== 'offline' && now - p.lastSeen > OFFLINE_MS) await this.set(userId, 'offline', undefined, false);
      else if (p.presence === 'online' && now - p.lastActive > IDLE_MS) await this.set(userId, 'unavailable', undefined, false);
    }
  }

  syncSource(): SyncSource {
    return {
      key: 'p',
      current: () => this.stream.current,
      collect: async (ctx: SyncSourceContext, from: number | null) => {
        if (!this.enabled || (from !== null && this.stream.current <= from && ctx.newlyJoined.size === 0)) return false;
        if (!matchesEventFilter(ctx.filter.presence, 'm.presence', undefined)) return false;
        const sharing = await this.state.usersSharingRooms(ctx.userId);
        let changed = false;
        for (const u of sharing.length ? sharing : [ctx.userId]) {
          const p = this.users.get(u);
          if (!p || p.changed === 0 || (from !== null && p.changed <= from)) continue;
          if (!matchesEventFilter(ctx.filter.presence, 'm.presence', u)) continue;
          ctx.response.presence.push({ type: 'm.presence', sender: u, content: { ...this.get(u), user_id: u } });
          changed = true;
        }
        return changed;
      },
    };
  }
}
