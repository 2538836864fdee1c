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

  /** Servers with a joined member in `state`, ours first, the rest by member count (most first). */
  serversIn(state: StateSnapshot, memberships = ['join']): string[] {
    const counts = new Map<string, number>();
    for (const [user, m] of state.members) {
      if (!memberships.includes(m)) continue;
      const server = serverNameOf(user);
      if (server) counts.set(server, (counts.get(server) ?? 0) + 1);
    }
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
