/**
 * Room state snapshots by state group. A group never changes once written, so a snapshot can be
 * cached forever (bounded LRU) and shared by every reader; derived facts (members, local users)
 * are memoised on the snapshot.
 */
import type { StateEntry, StateStore } from '../../storage/state-store.ts';
import type { WriteTx } from '../../storage/db.ts';

/** `type + "\0" + state_key`, the key of a state map (same as protocol/auth stateKeyOf). */
export function sk(type: string, stateKey: string): string {
  return `${type}\u0000${stateKey}`;
}

export function splitSk(key: string): [string, string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** A full state delta depth at which a new group is written as a complete snapshot instead. */
export const MAX_DELTA_DEPTH = 100;

export class StateSnapshot {
  private joinedCache: string[] | undefined;
  private localCache: Map<string, string[]> = new Map();

  constructor(
    readonly group: number,
    readonly roomId: string,
    /** state key → event ID */
    readonly map: ReadonlyMap<string, string>,
    /** user ID → membership, for every m.room.member entry */
    readonly members: ReadonlyMap<string, string>,
    /** Length of the delta chain below this group (0 = full snapshot). */
    readonly deltaDepth: number,
  ) {}

  get(type: string, stateKey = ''): string | undefined {
    return this.map.get(sk(type, stateKey));
  }

  membership(userId: string): string | undefined {
    return this.members.get(userId);
  }

  joined(): string[] {
    if (!this.joinedCache) {
      this.joinedCache = [];
      for (const [u, m] of this.members) if (m === 'join') this.joinedCache.push(u);
    }
    return this.joinedCache;
  }

  /** Local users (on `serverName`) whose membership is one of `memberships` (e.g. join+invite). */
  localWith(serverName: string, memberships: string): string[] {
    const key = `${serverName}|${memberships}`;
    let out = this.localCache.get(key);
    if (!out) {
      out = [];
      const wanted = memberships.split(',');
      const suffix = ':' + serverName;
      for (const [u, m] of this.members) if (wanted.includes(m) && u.endsWith(suffix)) out.push(u);
      this.localCache.set(key, out);
    }
    return out;
  }

  /** A new snapshot with `entries` applied (state keys added or replaced). */
  withEntries(group: number, entries: readonly StateEntry[]): StateSnapshot {
    const map = new Map(this.map);
    let members: Map<string, string> | undefined;
    for (const e of entries) {
      map.set(sk(e.type, e.stateKey), e.eventId);
      if (e.type === 'm.room.member') {
        members ??= new Map(this.members);
        members.set(e.stateKey, e.membership ?? 'leave');
      }
    }
    const depth = this.deltaDepth + 1 >= MAX_DELTA_DEPTH ? 0 : this.deltaDepth + 1;
    return new StateSnapshot(group, this.roomId, map, members ?? this.members, depth);
  }

  static empty(group: number, roomId: string): StateSnapshot {
    return new StateSnapshot(group, roomId, new Map(), new Map(), 0);
  }

  /** All entries (for writing a full snapshot). `membershipOf` supplies memberships of member events. */
  entries(): StateEntry[] {
    const out: StateEntry[] = [];
    for (const [key, eventId] of this.map) {
      const [type, stateKey] = splitSk(key);
      out.push({ type, stateKey, eventId, membership: type === 'm.room.member' ? (this.members.get(stateKey) ?? null) : null });
    }
    return out;
  }
}

/**
 * Most state entries (map + members) held by the cache's snapshots together, ~50 bytes each.
 * Each snapshot is a full copy, so a count cap alone is not a memory cap: 300 versions of a
 * 10,000-member room's state would hold ~6 M entries (hundreds of MB). 200k entries ≈ 10 MB.
 */
const DEFAULT_MAX_ENTRIES = 200_000;

export class StateCache {
  private readonly lru = new Map<number, StateSnapshot>();
  /** Sum of weight() over the cached snapshots. */
  private entries = 0;

  constructor(
    private readonly store: StateStore,
    private readonly capacity: number,
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
  ) {}

  put(s: StateSnapshot): void {
    const old = this.lru.get(s.group);
    if (old) this.entries -= weight(old);
    this.lru.delete(s.group);
    this.lru.set(s.group, s);
    this.entries += weight(s);
    // The newest snapshot always stays, however big.
    while (this.lru.size > 1 && (this.lru.size > this.capacity || this.entries > this.maxEntries)) {
      const [group, oldest] = this.lru.entries().next().value!;
      this.lru.delete(group);
      this.entries -= weight(oldest);
    }
  }

  peek(group: number): StateSnapshot | undefined {
    const s = this.lru.get(group);
    if (s) {
      this.lru.delete(group);
      this.lru.set(group, s);
    }
    return s;
  }

  /** The snapshot of a group (from the database on a miss; pass tx inside a write job). */
  async get(group: number, tx?: WriteTx): Promise<StateSnapshot> {
    const hit = this.peek(group);
    if (hit) return hit;
    const meta = await this.store.groupMeta(group, tx);
    if (!meta) throw new Error(`state group ${group} does not exist`);
    const rows = await this.store.loadGroupRows(group, tx);
    const map = new Map<string, string>();
    const members = new Map<string, string>();
    for (const r of rows) {
      map.set(sk(r.type, r.state_key), r.event_id);
      if (r.type === 'm.room.member') members.set(r.state_key, r.membership ?? 'leave');
    }
    const snap = new StateSnapshot(group, meta.room_id, map, members, meta.delta_depth);
    this.put(snap);
    return snap;
  }
}

/** What a snapshot costs the cache: its state entries plus its members map (when not shared). */
function weight(s: StateSnapshot): number {
  return s.map.size + s.members.size;
}
