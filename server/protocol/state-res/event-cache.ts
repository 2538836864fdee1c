/**
 * Events loaded during one resolution. Every phase first loads what it needs in one batch, then
 * works synchronously, so the hot loops (sorting, auth checks) never await.
 */
import { referenceIds } from '../auth/ids.ts';
import type { IdentifiedPdu } from '../auth/types.ts';
import type { RoomVersion } from '../room-versions.ts';
import type { StateResStore } from './types.ts';

export class EventCache {
  private readonly events = new Map<string, IdentifiedPdu>();
  private readonly tried = new Set<string>();
  private readonly rejected = new Set<string>();
  private readonly authIdCache = new Map<string, readonly string[]>();

  constructor(
    private readonly store: StateResStore,
    readonly version: RoomVersion,
    private readonly roomId: string | undefined,
  ) {}

  /** Fetch every not yet fetched ID in one call (and their rejection status). */
  async load(ids: Iterable<string>): Promise<void> {
    const wanted: string[] = [];
    for (const id of ids) {
      if (!this.tried.has(id)) {
        this.tried.add(id);
        wanted.push(id);
      }
    }
    if (wanted.length === 0) return;
    for (const ev of await this.store.getEvents(wanted)) {
      if (typeof ev?.event_id !== 'string' || !this.tried.has(ev.event_id) || !this.inRoom(ev)) continue;
      this.events.set(ev.event_id, ev);
    }
    if (this.store.getRejected) for (const id of await this.store.getRejected(wanted)) this.rejected.add(id);
  }

  private inRoom(ev: IdentifiedPdu): boolean {
    if (this.roomId === undefined) return true;
    if (ev.type === 'm.room.create' && ev.state_key === '' && this.version.roomIdFromCreateEvent) {
      return ev.event_id === `$${this.roomId.slice(1)}`;
    }
    return ev.room_id === this.roomId;
  }

  get(id: string): IdentifiedPdu | undefined {
    return this.events.get(id);
  }

  isRejected(id: string): boolean {
    return this.rejected.has(id);
  }

  /**
   * The event's auth event IDs. In v12 the create event is never listed ("The room_id (being the
   * m.room.create event's ID) implies this instead"), so it is added from the room ID, as Synapse does.
   */
  authIds(ev: IdentifiedPdu): readonly string[] {
    let ids = this.authIdCache.get(ev.event_id);
    if (ids) return ids;
    ids = referenceIds(ev.auth_events);
    if (this.version.roomIdFromCreateEvent && typeof ev.room_id === 'string' && ev.type !== 'm.room.create') {
      const createId = `$${ev.room_id.slice(1)}`;
      if (!ids.includes(createId)) ids = [...ids, createId];
    }
    this.authIdCache.set(ev.event_id, ids);
    return ids;
  }

  /**
   * Union of the auth chains of `starts` (not including them, unless reachable). Walks breadth-first,
   * one `getEvents` batch per level; does not descend below events in `stopAt` (whose ancestors the
   * caller already accounts for).
   */
  async walkAuthChain(starts: Iterable<string>, stopAt?: ReadonlySet<string>): Promise<Set<string>> {
    const seen = new Set<string>();
    let frontier: string[] = [];
    await this.load(starts);
    for (const id of starts) {
      const ev = this.get(id);
      if (ev) for (const a of this.authIds(ev)) frontier.push(a);
    }
    while (frontier.length > 0) {
      const level = frontier.filter((id) => !seen.has(id));
      for (const id of level) seen.add(id);
      await this.load(level.filter((id) => !stopAt?.has(id)));
      frontier = [];
      for (const id of level) {
        if (stopAt?.has(id)) continue;
        const ev = this.get(id);
        if (ev) for (const a of this.authIds(ev)) if (!seen.has(a)) frontier.push(a);
      }
    }
    return seen;
  }
}
