/**
 * Serving room history to other servers (server-server-api "Backfilling and retrieving missing
 * events", "Retrieving events", "Retrieving event authorisation information"): /event,
 * /state and /state_ids (the state *before* an event, as Synapse serves it), /event_auth,
 * /backfill and /get_missing_events. Only servers with a user in the room (at that event or now)
 * see anything, and the room's ACL applies.
 */
import type { RoomCore } from '../rooms/core.ts';
import type { JsonObject, Pdu } from '../../protocol/pdu-types.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import type { StoredEvent } from '../events/event-cache.ts';
import { StateSnapshot } from '../state/state-cache.ts';
import { forbidden, notFound } from '../../http/errors.ts';
import type { RoomServers } from './room-servers.ts';
import { authChainOf } from './membership-in.ts';
import { prevIds } from './remote-events.ts';

export const MAX_BACKFILL = 100;

function hasMember(state: StateSnapshot | undefined, server: string, memberships: string[]): boolean {
  if (!state) return false;
  for (const [u, m] of state.members) if (memberships.includes(m) && serverNameOf(u) === server) return true;
  return false;
}

export class History {
  constructor(
    private readonly core: RoomCore,
    private readonly rooms: RoomServers,
  ) {}

  /** ACL, then: the server has a joined member now, or had one (join/invite) at the event. */
  async assertCanSee(roomId: string, origin: string, at?: StoredEvent): Promise<void> {
    await this.rooms.assertAllowed(roomId, origin);
    const current = await this.core.currentState(roomId);
    if (!current) throw notFound('Unknown room');
    if (hasMember(current, origin, ['join'])) return;
    if (at?.stateAfter && hasMember(await this.core.stateCache.get(at.stateAfter), origin, ['join', 'invite'])) return;
    throw forbidden('Your server is not in this room');
  }

  /** GET /event/{eventId}. Rejected events are not served; soft-failed ones are. */
  async event(origin: string, eventId: string): Promise<Pdu> {
    const ev = await this.core.eventCache.get(eventId);
    if (!ev || ev.rejected) throw notFound('Event not found');
    await this.assertCanSee(ev.roomId, origin, ev);
    return ev.pdu;
  }

  /** The state before `eventId` (which must be in our timeline, or soft-failed). */
  private async stateBefore(roomId: string, eventId: string): Promise<StateSnapshot> {
    const ev = await this.core.eventCache.get(eventId);
    if (!ev || ev.roomId !== roomId) throw notFound('Event not found');
    // Nothing comes before the create event.
    if (ev.type === 'm.room.create' && ev.stateKey === '' && ev.pdu.prev_events.length === 0) return StateSnapshot.empty(0, roomId);
    if (ev.stateBefore === null) throw notFound('Event not found');
    return this.core.stateCache.get(ev.stateBefore);
  }

  async stateIds(origin: string, roomId: string, eventId: string): Promise<{ pdu_ids: string[]; auth_chain_ids: string[] }> {
    const ev = await this.core.eventCache.get(eventId);
    if (!ev || ev.roomId !== roomId) throw notFound('Event not found');
    await this.assertCanSee(roomId, origin, ev);
    const state = await this.stateBefore(roomId, eventId);
    const ids = [...state.map.values()];
    return { pdu_ids: ids, auth_chain_ids: await authChainOf(this.core, ids) };
  }

  async state(origin: string, roomId: string, eventId: string): Promise<{ pdus: Pdu[]; auth_chain: Pdu[] }> {
    const { pdu_ids, auth_chain_ids } = await this.stateIds(origin, roomId, eventId);
    const evs = await this.core.eventCache.getMany([...pdu_ids, ...auth_chain_ids]);
    const pdus = (ids: string[]) => ids.map((id) => evs.get(id)?.pdu).filter((p): p is Pdu => !!p);
    return { pdus: pdus(pdu_ids), auth_chain: pdus(auth_chain_ids) };
  }

  async eventAuth(origin: string, roomId: string, eventId: string): Promise<Pdu[]> {
    const ev = await this.core.eventCache.get(eventId);
    if (!ev || ev.roomId !== roomId) throw notFound('Event not found');
    await this.assertCanSee(roomId, origin, ev);
    const chain = await authChainOf(this.core, [eventId]);
    return [...(await this.core.eventCache.getMany(chain)).values()].map((e) => e.pdu);
  }

  /**
   * Breadth-first over prev_events from `from`, deepest first, up to `limit` events (the starting
   * events included when `includeStart`); `stop` events are neither returned nor expanded.
   */
  private async walk(roomId: string, from: string[], limit: number, includeStart: boolean, stop: Set<string>, minDepth = 0): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    const seen = new Set<string>(from);
    let frontier = includeStart ? [...from] : [];
    if (!includeStart) {
      for (const ev of (await this.core.eventCache.getMany(from)).values()) {
        for (const p of prevIds(ev.pdu)) if (!seen.has(p) && !stop.has(p)) (seen.add(p), frontier.push(p));
      }
    }
    while (frontier.length && out.length < limit) {
      const evs = [...(await this.core.eventCache.getMany(frontier)).values()]
        .filter((e) => e.roomId === roomId && !e.rejected && e.depth >= minDepth)
        .sort((a, b) => b.depth - a.depth);
      const next: string[] = [];
      for (const ev of evs) {
        if (out.length >= limit) break;
        out.push(ev);
        for (const p of prevIds(ev.pdu)) if (!seen.has(p) && !stop.has(p)) (seen.add(p), next.push(p));
      }
      frontier = next;
    }
    return out;
  }

  async backfill(origin: string, roomId: string, from: string[], limit: number): Promise<Pdu[]> {
    const start = await this.core.eventCache.getMany(from);
    const first = [...start.values()].find((e) => e.roomId === roomId);
    if (!first) throw notFound('Event not found');
    await this.assertCanSee(roomId, origin, first);
    const evs = await this.walk(roomId, from, Math.min(Math.max(limit, 1), MAX_BACKFILL), true, new Set());
    return evs.map((e) => e.pdu);
  }

  async missingEvents(origin: string, roomId: string, body: JsonObject): Promise<Pdu[]> {
    await this.assertCanSee(roomId, origin);
    const latest = Array.isArray(body.latest_events) ? body.latest_events.filter((x): x is string => typeof x === 'string').slice(0, 20) : [];
    const earliest = new Set(Array.isArray(body.earliest_events) ? body.earliest_events.filter((x): x is string => typeof x === 'string') : []);
    const limit = typeof body.limit === 'number' ? Math.min(Math.max(body.limit, 1), MAX_BACKFILL) : 10;
    const minDepth = typeof body.min_depth === 'number' ? body.min_depth : 0;
    const evs = await this.walk(roomId, latest, limit, false, earliest, minDepth);
    return evs.sort((a, b) => a.depth - b.depth).map((e) => e.pdu);
  }
}
