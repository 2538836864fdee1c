/**
 * Which events a user may see (client-server-api "History visibility", modules/history_visibility.md):
 * 1. world_readable at the event: visible;
 * 2. the user was joined at the event: visible (own leave/kick events are visible too);
 * 3. shared at the event and the user is joined now: visible;
 * 4. invited at the event with visibility `invited`: visible;
 * otherwise not. The visibility of an m.room.history_visibility event itself is the more
 * permissive of the old and new values. State "at the event" is the state before it.
 */
import type { RoomCore } from './core.ts';
import type { StoredEvent } from '../events/event-cache.ts';
import type { StateSnapshot } from '../state/state-cache.ts';

const ORDER = ['joined', 'invited', 'shared', 'world_readable'];

function more(a: string, b: string): string {
  return ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b;
}

export class Visibility {
  constructor(private readonly core: RoomCore) {}

  private async historyVisibility(snap: StateSnapshot): Promise<string> {
    const c = await this.core.stateContent(snap, 'm.room.history_visibility');
    const v = c?.history_visibility;
    return typeof v === 'string' && ORDER.includes(v) ? v : 'shared';
  }

  /** Events of any rooms that `userId` may see, in the given order. */
  async filter(userId: string, events: readonly StoredEvent[]): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    const currentMembership = new Map<string, string | undefined>();
    const byGroup = new Map<number, { hv: string; membership: string | undefined }>();
    const out: StoredEvent[] = [];
    for (const ev of events) {
      if (!currentMembership.has(ev.roomId)) {
        currentMembership.set(ev.roomId, (await this.core.currentState(ev.roomId))?.membership(userId));
      }
      const group = ev.stateBefore ?? ev.stateAfter;
      if (group === null) continue;
      let at = byGroup.get(group);
      if (!at) {
        const snap = await this.core.stateCache.get(group);
        at = { hv: await this.historyVisibility(snap), membership: snap.membership(userId) };
        byGroup.set(group, at);
      }
      let hv = at.hv;
      if (ev.type === 'm.room.history_visibility' && ev.stateKey === '' && !ev.redactedBy) {
        const nv = ev.pdu.content.history_visibility;
        if (typeof nv === 'string' && ORDER.includes(nv)) hv = more(hv, nv);
      }
      if (hv === 'world_readable') {
        out.push(ev);
        continue;
      }
      let membership = at.membership;
      if (ev.type === 'm.room.member' && ev.stateKey === userId) {
        const m = ev.pdu.content.membership;
        // The user's own membership event: visible when it makes them join, or ends a join/invite.
        if (m === 'join' || ((m === 'leave' || m === 'ban') && (membership === 'join' || membership === 'invite'))) {
          out.push(ev);
          continue;
        }
      }
      if (membership === 'join') out.push(ev);
      else if (hv === 'shared' && currentMembership.get(ev.roomId) === 'join') out.push(ev);
      else if (hv === 'invited' && membership === 'invite') out.push(ev);
    }
    return out;
  }

  /** May the user see events of this room at all right now (joined, or world_readable history)? */
  async canSeeRoom(userId: string, roomId: string): Promise<boolean> {
    const state = await this.core.currentState(roomId);
    if (!state) return false;
    if (state.membership(userId) === 'join') return true;
    return (await this.historyVisibility(state)) === 'world_readable';
  }
}
