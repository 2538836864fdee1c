/**
 * Which servers take part in a room (from its current state) and whether a server passes the
 * room's ACL. Used to address outbound PDUs, answer /query/directory, and guard inbound requests.
 */
import type { RoomCore } from '../rooms/core.ts';
import type { StateSnapshot } from '../state/state-cache.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import { forbidden } from '../../http/errors.ts';
import { serverAllowedByAcl } from './acl.ts';

export class RoomServers {
  constructor(
    private readonly core: RoomCore,
    private readonly serverName: () => string,
  ) {}

  /** Joined members per server, memoised per snapshot (snapshots never change). */
  private readonly joinedCounts = new WeakMap<StateSnapshot, Map<string, number>>();

  /**
   * Joined members per server in `state`. When `derivedFrom` (the state before one membership
   * change to `changedUser`) is memoised, the counts are derived from it in O(servers) instead
   * of walking every member: every local event asks this, in rooms with thousands of members.
   */
  joinedPerServer(state: StateSnapshot, derivedFrom?: { before: StateSnapshot; changedUser?: string }): Map<string, number> {
    const hit = this.joinedCounts.get(state);
    if (hit) return hit;
    let counts: Map<string, number> | undefined;
    const base = derivedFrom && this.joinedCounts.get(derivedFrom.before);
    if (base && derivedFrom) {
      counts = new Map(base);
      const u = derivedFrom.changedUser;
      if (u !== undefined) {
        const was = derivedFrom.before.membership(u) === 'join';
        const now = state.membership(u) === 'join';
        const server = serverNameOf(u);
        if (server && was !== now) {
          const n = (counts.get(server) ?? 0) + (now ? 1 : -1);
          if (n > 0) counts.set(server, n);
          else counts.delete(server);
        }
      }
    } else {
      counts = new Map();
      for (const [user, m] of state.members) {
        if (m !== 'join') continue;
        const server = serverNameOf(user);
        if (server) counts.set(server, (counts.get(server) ?? 0) + 1);
      }
    }
    this.joinedCounts.set(state, counts);
    return counts;
  }

  /** serversIn(state) for joined members, memoised per snapshot: the outbound hook asks it twice for every local event. */
  private readonly joinedServers = new WeakMap<StateSnapshot, readonly string[]>();

  /**
   * Servers with a joined member in `state`, ours first, the rest by member count (most first).
   * The result may be shared (frozen): do not modify it.
   */
  serversIn(state: StateSnapshot, memberships = ['join'], derivedFrom?: { before: StateSnapshot; changedUser?: string }): string[] {
    let counts: Map<string, number>;
    if (memberships.length === 1 && memberships[0] === 'join') {
      const hit = this.joinedServers.get(state);
      if (hit) return hit as string[];
      counts = this.joinedPerServer(state, derivedFrom);
      const out = Object.freeze(this.ordered(counts));
      this.joinedServers.set(state, out);
      return out as string[];
    } else {
      counts = new Map();
      for (const [user, m] of state.members) {
        if (!memberships.includes(m)) continue;
        const server = serverNameOf(user);
        if (server) counts.set(server, (counts.get(server) ?? 0) + 1);
      }
    }
    return this.ordered(counts);
  }

  private ordered(counts: Map<string, number>): string[] {
    const me = this.serverName();
    const rest = [...counts.entries()].filter(([s]) => s !== me).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([s]) => s);
    return counts.has(me) ? [me, ...rest] : rest;
  }

  async serversInRoom(roomId: string): Promise<string[]> {
    const state = await this.core.currentState(roomId);
    return state ? this.serversIn(state) : [];
  }

  /** Content of the room's current m.room.server_acl, if any. */
  async aclContent(roomId: string, state?: StateSnapshot): Promise<JsonObject | undefined> {
    const st = state ?? (await this.core.currentState(roomId));
    if (!st) return undefined;
    const id = st.get('m.room.server_acl', '');
    if (!id) return undefined;
    const ev = await this.core.eventCache.get(id);
    return ev && !ev.rejected ? ev.pdu.content : undefined;
  }

  async allowed(roomId: string, server: string, state?: StateSnapshot): Promise<boolean> {
    return serverAllowedByAcl(await this.aclContent(roomId, state), server);
  }

  /** Throws 403 M_FORBIDDEN when the room's ACL denies `server` (spec "Server ACLs"). */
  async assertAllowed(roomId: string, server: string): Promise<void> {
    if (!(await this.allowed(roomId, server))) throw forbidden(`Server ${server} is denied by the room's server ACL`);
  }
}
