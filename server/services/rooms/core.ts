/**
 * The shared machinery of the rooms area, built once per process: stores, caches, the event
 * writer, the serializer, stream counters and the notifier. Services (rooms, sync, receipts…)
 * take a RoomCore instead of a dozen constructor arguments.
 */
import type { Database } from '../../storage/db.ts';
import { EventsStore } from '../../storage/events-store.ts';
import { StateStore } from '../../storage/state-store.ts';
import { RoomsStore } from '../../storage/rooms-store.ts';
import { RelationsStore } from '../../storage/relations-store.ts';
import { getRoomVersion, type RoomVersion } from '../../protocol/room-versions.ts';
import type { SigningKey } from '../../protocol/signing.ts';
import { EventCache, type StoredEvent } from '../events/event-cache.ts';
import { EventWriter } from '../events/event-writer.ts';
import { EventSerializer } from '../events/client-format.ts';
import { StateCache, type StateSnapshot } from '../state/state-cache.ts';
import { StreamCounter } from '../streams.ts';
import { RecentEvents } from '../events/recent-events.ts';
import { Notifier } from '../notifier.ts';
import { notFound } from '../../http/errors.ts';
import type { MembershipStreamRow } from '../../storage/state-store.ts';

const USER_CACHE = 5000;

export interface RoomCoreOptions {
  db: Database;
  serverName: () => string;
  signingKeys: SigningKey[];
  now: () => number;
  /** Parsed events kept in memory. */
  eventCacheSize?: number;
  /** State snapshots kept in memory. */
  stateCacheSize?: number;
}

export class RoomCore {
  readonly db: Database;
  readonly events: EventsStore;
  readonly state: StateStore;
  readonly rooms: RoomsStore;
  readonly relations: RelationsStore;
  readonly eventCache: EventCache;
  readonly stateCache: StateCache;
  readonly writer: EventWriter;
  readonly serializer: EventSerializer;
  readonly eventStream: StreamCounter;
  /** The latest committed timeline events (incremental /sync reads them from memory). */
  readonly recent: RecentEvents;
  readonly notifier: Notifier;
  readonly serverName: () => string;
  readonly now: () => number;
  readonly signingKeys: SigningKey[];
  private readonly versions = new Map<string, RoomVersion>();
  /** Per-user current memberships (with the stream position of each membership event). */
  private readonly memberships = new Map<string, MembershipStreamRow[]>();
  /** Per-user forgotten rooms. */
  private readonly forgotten = new Map<string, ReadonlySet<string>>();
  /** Bumped on every membership change, so a read that raced a change is not cached. */
  private membershipGen = 0;

  private constructor(o: RoomCoreOptions, eventStart: number, groupStart: number) {
    this.db = o.db;
    this.serverName = o.serverName;
    this.now = o.now;
    this.signingKeys = o.signingKeys;
    this.events = new EventsStore(o.db);
    this.state = new StateStore(o.db);
    this.rooms = new RoomsStore(o.db);
    this.relations = new RelationsStore(o.db);
    this.eventCache = new EventCache(this.events, o.eventCacheSize ?? 5000);
    this.stateCache = new StateCache(this.state, o.stateCacheSize ?? 300);
    this.eventStream = new StreamCounter(eventStart);
    this.recent = new RecentEvents(eventStart);
    this.notifier = new Notifier();
    this.writer = new EventWriter({
      db: o.db,
      events: this.events,
      state: this.state,
      rooms: this.rooms,
      eventCache: this.eventCache,
      stateCache: this.stateCache,
      stream: this.eventStream,
      groupStart,
      serverName: o.serverName,
      signingKey: () => this.signingKeys[0]!,
      notifier: this.notifier,
      now: o.now,
    });
    this.writer.onCommitted((b) => {
      if (b.appended.length === 0) return;
      this.recent.add(
        b.appended
          .filter((a) => !a.event.outlier && !a.event.rejected)
          .map((a) => ({ stream: a.event.streamOrdering, roomId: a.event.roomId, eventId: a.event.eventId }))
          .sort((x, y) => x.stream - y.stream),
      );
    });
    this.writer.onMembershipChanged((users) => {
      this.membershipGen++;
      if (users === null) {
        this.memberships.clear();
        this.forgotten.clear();
        return;
      }
      for (const u of users) {
        this.memberships.delete(u);
        this.forgotten.delete(u);
      }
    });
    this.serializer = new EventSerializer(this.eventCache, this.relations, (id) => this.versionOf(id), o.now);
  }

  static async create(o: RoomCoreOptions): Promise<RoomCore> {
    const events = new EventsStore(o.db);
    const state = new StateStore(o.db);
    return new RoomCore(o, await events.maxStreamOrdering(), await state.maxGroupId());
  }

  /** The room's version; throws 404 for an unknown room. */
  async versionOf(roomId: string): Promise<RoomVersion> {
    const v = await this.maybeVersionOf(roomId);
    if (!v) throw notFound('Unknown room');
    return v;
  }

  async maybeVersionOf(roomId: string): Promise<RoomVersion | undefined> {
    const cached = this.versions.get(roomId);
    if (cached) return cached;
    const row = await this.rooms.get(roomId);
    const v = row ? getRoomVersion(row.room_version) : undefined;
    if (v) this.versions.set(roomId, v);
    return v;
  }

  /** Committed current state of a room, or undefined if the server does not know the room. */
  currentState(roomId: string): Promise<StateSnapshot | undefined> {
    return this.writer.currentState(roomId);
  }

  /** The event of a state entry in a snapshot (or undefined). */
  async stateEvent(state: StateSnapshot, type: string, stateKey = ''): Promise<StoredEvent | undefined> {
    const id = state.get(type, stateKey);
    return id === undefined ? undefined : this.eventCache.get(id);
  }

  /** Content of a state entry, {} when absent. */
  async stateContent(state: StateSnapshot, type: string, stateKey = ''): Promise<Record<string, unknown> | undefined> {
    return (await this.stateEvent(state, type, stateKey))?.pdu.content;
  }

  /**
   * The user's memberships now (any membership), cached until one of them changes. Treat the
   * result as read-only.
   */
  async roomsOfUser(userId: string): Promise<MembershipStreamRow[]> {
    const hit = this.memberships.get(userId);
    if (hit) return hit;
    const gen = this.membershipGen;
    const rows = await this.state.roomsOfUserWithStream(userId);
    if (gen === this.membershipGen) {
      if (this.memberships.size >= USER_CACHE) this.memberships.clear();
      this.memberships.set(userId, rows);
    }
    return rows;
  }

  /** Rooms the user forgot (POST /forget), cached. */
  async forgottenRooms(userId: string): Promise<ReadonlySet<string>> {
    const hit = this.forgotten.get(userId);
    if (hit) return hit;
    const gen = this.membershipGen;
    const set = await this.rooms.forgottenRooms(userId);
    if (gen === this.membershipGen) {
      if (this.forgotten.size >= USER_CACHE) this.forgotten.clear();
      this.forgotten.set(userId, set);
    }
    return set;
  }

  /** After POST /forget. */
  forgetChanged(userId: string): void {
    this.membershipGen++;
    this.forgotten.delete(userId);
  }

  isLocalUser(userId: string): boolean {
    return userId.endsWith(':' + this.serverName());
  }
}
