/**
 * Persisting events that came from other servers, through the rooms area's writer (same tables,
 * caches, hooks and invariants as local events):
 * - outliers: events known without their place in the room (auth events, state from a join):
 *   outlier = 1, no state, negative stream positions (never in a timeline);
 * - timeline events with the state before them computed by the caller (steps 4–5 of "Checks
 *   performed on receipt of a PDU" already applied) — here step 6: soft failure against the
 *   current state, then forward extremities and the new current state (state resolution when
 *   the room forks);
 * - backfilled events: below the room's oldest events (negative stream positions, descending),
 *   never forward extremities, never changing the current state.
 *
 * Soft-failed events are stored with outlier = 1 but with their state groups (so they take part
 * in state resolution when something references them, yet never reach clients); rejected events
 * carry `rejected` and the state before them as the state after.
 */
import type { Pdu } from '../../protocol/pdu-types.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import { authEventsNeeded, checkAuth, stateKeyOf, type AuthOptions, type IdentifiedPdu } from '../../protocol/auth/index.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { EventRow } from '../../storage/events-store.ts';
import type { FederationEventsStore } from '../../storage/federation-events-store.ts';
import type { StoredEvent } from '../events/event-cache.ts';
import type { WriteBatch, AppendedEvent } from '../events/write-batch.ts';
import { splitSk, StateSnapshot } from '../state/state-cache.ts';
import { identified, resolveSnapshots, stageState, stageStateAfter } from './state-builder.ts';

export interface RemoteEvent {
  eventId: string;
  pdu: Pdu;
}

export interface TimelineInput extends RemoteEvent {
  roomId: string;
  version: RoomVersion;
  /** The state before the event: an existing snapshot, or a resolved map staged as a new group. */
  before: { base?: StateSnapshot; map?: ReadonlyMap<string, string>; memberships?: ReadonlyMap<string, string> };
  /** Why steps 4–5 rejected it (null: accepted so far). */
  rejected: string | null;
  /** Server-side unsigned extras to keep (e.g. invite_room_state). */
  unsignedExtra?: Record<string, unknown> | null;
  /** Extra work in the same write job once the event is accepted (e.g. forwarding it). */
  stage?: (b: WriteBatch, current: StateSnapshot) => void | Promise<void>;
}

export interface TimelineResult {
  eventId: string;
  rejected: string | null;
  softFailed: boolean;
  stateBefore: StateSnapshot;
  stateAfter: StateSnapshot;
}

export function threadOf(pdu: Pdu): string | null {
  const rel = pdu.content['m.relates_to'];
  return typeof rel === 'object' && rel !== null && !Array.isArray(rel) && rel.rel_type === 'm.thread' && typeof rel.event_id === 'string' ? rel.event_id : null;
}

function rowOf(ev: RemoteEvent, roomId: string, stream: number, f: Pick<EventRow, 'state_before' | 'state_after' | 'outlier' | 'rejected' | 'unsigned_json'>): EventRow {
  return {
    stream_ordering: stream,
    event_id: ev.eventId,
    room_id: roomId,
    depth: ev.pdu.depth,
    type: ev.pdu.type,
    state_key: ev.pdu.state_key ?? null,
    sender: ev.pdu.sender,
    origin_server_ts: ev.pdu.origin_server_ts,
    json: JSON.stringify(ev.pdu),
    redacted_by: null,
    device_id: null,
    txn_id: null,
    has_relations: 0,
    thread_id: threadOf(ev.pdu),
    ...f,
  };
}

function storedOf(row: EventRow, pdu: Pdu): StoredEvent {
  return {
    eventId: row.event_id,
    roomId: row.room_id,
    streamOrdering: row.stream_ordering,
    depth: row.depth,
    type: row.type,
    stateKey: row.state_key ?? undefined,
    sender: row.sender,
    originServerTs: row.origin_server_ts,
    pdu,
    unsignedExtra: row.unsigned_json ? JSON.parse(row.unsigned_json) : null,
    stateBefore: row.state_before,
    stateAfter: row.state_after,
    outlier: row.outlier === 1,
    rejected: row.rejected,
    redactedBy: null,
    deviceId: null,
    txnId: null,
    hasRelations: false,
    threadId: row.thread_id,
  };
}

/** The auth map the rules read, built from a state snapshot (only the entries they need). */
export async function authMapFromState(core: RoomCore, pdu: Pdu, version: RoomVersion, state: StateSnapshot | ReadonlyMap<string, string>, tx?: import('../../storage/db.ts').WriteTx): Promise<Map<string, IdentifiedPdu>> {
  const map = state instanceof StateSnapshot ? state.map : state;
  const keys = authEventsNeeded(pdu, version).map(([t, s]) => stateKeyOf(t, s));
  keys.push(stateKeyOf('m.room.create', ''));
  const ids = new Map<string, string>();
  for (const k of keys) {
    const id = map.get(k);
    if (id) ids.set(k, id);
  }
  const evs = await core.eventCache.getMany(ids.values(), tx);
  const out = new Map<string, IdentifiedPdu>();
  for (const [k, id] of ids) {
    const ev = evs.get(id);
    if (ev && !ev.rejected) out.set(k, identified(ev));
  }
  return out;
}

export class RemoteEvents {
  /** Next negative stream position (outliers and backfill). */
  private low = 0;

  constructor(
    private readonly core: RoomCore,
    private readonly store: FederationEventsStore,
    private readonly authOptions: (version: RoomVersion) => AuthOptions,
  ) {}

  async start(): Promise<void> {
    this.low = await this.store.minStreamOrdering();
  }

  /**
   * A promoted outlier's cached copy is stale: the row changes only when the batch flushes, and
   * reads during the job may cache the old row again, so it is dropped now and after the commit.
   */
  private forgetAfterCommit(b: WriteBatch, eventId: string): void {
    this.core.eventCache.forget(eventId);
    b.afterCommit(() => this.core.eventCache.forget(eventId));
  }

  /** A position below every stored event (outliers, backfill). */
  allocateLow(): number {
    return --this.low;
  }

  /**
   * Stores events as outliers (skipping any already stored). `rejected` gives the auth failure
   * of an event, if any.
   */
  async persistOutliers(b: WriteBatch, roomId: string, events: ReadonlyArray<RemoteEvent & { rejected?: string | null }>): Promise<void> {
    if (events.length === 0) return;
    const known = await this.store.known(events.map((e) => e.eventId), b.tx);
    const staged = new Set(b.eventRows.map((r) => r.event_id));
    for (const ev of events) {
      if (known.has(ev.eventId) || staged.has(ev.eventId)) continue;
      staged.add(ev.eventId);
      b.eventRows.push(rowOf(ev, roomId, this.allocateLow(), { state_before: null, state_after: null, outlier: 1, rejected: ev.rejected ?? null, unsigned_json: null }));
    }
  }

  /**
   * Persists a timeline event whose prev_events and auth events are stored. Applies the soft
   * failure check against the room's current state (skip with `noSoftFail` for events the
   * server itself vouches for, e.g. our own join), updates forward extremities and the current
   * state, runs the writer's hooks and wakes local users.
   */
  async persistTimeline(b: WriteBatch, input: TimelineInput, opts: { noSoftFail?: boolean; newRoom?: { creator: string } } = {}): Promise<TimelineResult> {
    const { roomId, version, pdu, eventId } = input;
    const core = this.core;
    const server = core.serverName();
    let head = opts.newRoom ? undefined : await core.writer.head(b, roomId);
    if (opts.newRoom && !(await core.rooms.get(roomId, b.tx))) {
      b.newRooms.push({ roomId, version: version.id, creator: opts.newRoom.creator, now: core.now() });
      b.touched.set(roomId, undefined);
    } else if (opts.newRoom) {
      // The room is known (e.g. from an invite): continue from its head.
      head = await core.writer.head(b, roomId);
    }

    const base = input.before.base && input.before.base.group > 0 ? input.before.base : undefined;
    const before = input.before.map ? await stageState(core, b, roomId, base, input.before.map, input.before.memberships) : base ?? StateSnapshot.empty(0, roomId);
    let rejected = input.rejected;
    let softFailed = false;
    const headHasState = !!head && head.state.get('m.room.create') !== undefined;
    if (!rejected && headHasState && !opts.noSoftFail) {
      // Step 6: "Passes authorisation rules based on the current state of the room, otherwise it is soft failed."
      const auth = await authMapFromState(core, pdu, version, head!.state, b.tx);
      const res = checkAuth({ ...pdu, event_id: eventId }, auth, version, this.authOptions(version));
      if (!res.ok) softFailed = true;
    }
    const membership = pdu.type === 'm.room.member' && typeof pdu.content.membership === 'string' ? pdu.content.membership : null;
    const after = rejected ? before : await stageStateAfter(core, b, roomId, before, { eventId, type: pdu.type, stateKey: pdu.state_key, membership });

    // unsigned extras as for local events: what this state event replaced.
    let unsignedExtra: Record<string, unknown> | null = input.unsignedExtra ?? null;
    if (!rejected && pdu.state_key !== undefined) {
      const replaced = before.get(pdu.type, pdu.state_key);
      if (replaced) {
        const old = await core.eventCache.get(replaced, b.tx);
        unsignedExtra = { ...(unsignedExtra ?? {}), replaces_state: replaced };
        if (old) Object.assign(unsignedExtra, { prev_content: old.redactedBy ? {} : old.pdu.content, prev_sender: old.sender });
      }
    }
    const stream = core.eventStream.allocate();
    b.maxStream = Math.max(b.maxStream, stream);
    const fields = {
      state_before: before.group || null,
      state_after: after.group || null,
      outlier: softFailed ? 1 : 0,
      rejected,
      unsigned_json: unsignedExtra ? JSON.stringify(unsignedExtra) : null,
    };
    const row = rowOf(input, roomId, stream, fields);
    const existing = (await this.store.known([eventId], b.tx)).get(eventId);
    if (existing) {
      // Known as an outlier: it takes its place in the timeline now.
      b.onFlush((tx) => this.store.promote(tx, eventId, { stream, stateBefore: fields.state_before, stateAfter: fields.state_after, outlier: softFailed, rejected, unsignedJson: fields.unsigned_json }));
      this.forgetAfterCommit(b, eventId);
    } else {
      b.eventRows.push(row);
    }
    // (The events_graph trigger derives event_edges from prev_events of timeline rows.)
    const result: TimelineResult = { eventId, rejected, softFailed, stateBefore: before, stateAfter: after };
    if (rejected || softFailed) return result;

    const stored = storedOf(row, pdu);
    core.eventCache.put(stored, row.json.length + (row.unsigned_json?.length ?? 0));

    // Forward extremities: the event replaces the prev_events it cites, unless something
    // already references it (it filled a gap).
    const prevs = new Set(prevIds(pdu));
    const oldExt = head?.extremities ?? [];
    const newExt = oldExt.filter((x) => !prevs.has(x));
    const referenced = await this.store.isReferenced(b.tx, eventId);
    if (!referenced) newExt.push(eventId);
    let current = after;
    if (headHasState && (referenced || newExt.length > 1)) {
      // A fork (or a gap filled below the extremities): the current state is the resolution of
      // the states after every forward extremity.
      const states: StateSnapshot[] = [];
      for (const x of newExt) {
        if (x === eventId) {
          states.push(after);
          continue;
        }
        const ev = await core.eventCache.get(x, b.tx);
        if (ev?.stateAfter) states.push(await core.stateCache.get(ev.stateAfter, b.tx));
      }
      if (states.length === 0) states.push(head!.state);
      const map = await resolveSnapshots(core, version, roomId, states, b.tx);
      current = await stageState(core, b, roomId, head!.state.group > 0 ? head!.state : after, map);
    }
    // Linear case: the event extends the head's state by itself alone.
    const linear = head && current === after && before.group === head.state.group && before.group > 0 && pdu.state_key !== undefined && after !== before;
    this.applyCurrent(b, roomId, head?.state, current, linear ? { type: pdu.type, stateKey: pdu.state_key!, eventId } : undefined);
    core.writer.setHead(b, { roomId, version, state: current, extremities: newExt, depth: Math.max(head?.depth ?? 0, pdu.depth) });

    for (const u of current.localWith(server, 'join,invite,knock')) b.wake.add(u);
    if (pdu.type === 'm.room.member' && pdu.state_key?.endsWith(':' + server)) b.wake.add(pdu.state_key);
    const appended: AppendedEvent = { event: stored, before, after, version };
    b.appended.push(appended);
    await core.writer.runHooks(b, appended);
    if (input.stage) await input.stage(b, current);
    return result;
  }

  /** Stages the current-state rows that change from `old` to `next`. */
  applyCurrent(b: WriteBatch, roomId: string, old: StateSnapshot | undefined, next: StateSnapshot, changed?: { type: string; stateKey: string; eventId: string }): void {
    if (old && old.group === next.group) return;
    if (old && changed) {
      // The common case: next is old plus one state event (no diff over the whole state).
      const membership = changed.type === 'm.room.member' ? (next.membership(changed.stateKey) ?? 'leave') : null;
      let cur = b.currentState.get(roomId);
      if (!cur) b.currentState.set(roomId, (cur = []));
      cur.push({ type: changed.type, stateKey: changed.stateKey, eventId: changed.eventId, membership });
      return;
    }
    const upserts = [];
    for (const [k, id] of next.map) {
      if (old?.map.get(k) === id) continue;
      const [type, stateKey] = splitSk(k);
      upserts.push({ type, stateKey, eventId: id, membership: type === 'm.room.member' ? (next.membership(stateKey) ?? 'leave') : null });
    }
    if (upserts.length) {
      let cur = b.currentState.get(roomId);
      if (!cur) b.currentState.set(roomId, (cur = []));
      cur.push(...upserts);
    }
    const removed: Array<[string, string]> = [];
    if (old) for (const k of old.map.keys()) if (!next.map.has(k)) removed.push(splitSk(k));
    if (removed.length) b.onFlush((tx) => this.store.deleteCurrentKeys(tx, roomId, removed));
  }

  /**
   * An "out-of-band" membership of a local user in a room this server is not joined to: a
   * remote invite, our rejection of it, a knock. Not part of our copy of the room's graph
   * (outlier, no prev edges), but in the room's current state so /sync shows it; the stripped
   * state the remote server gave travels in the event's server-side unsigned data.
   */
  async persistOutOfBand(b: WriteBatch, roomId: string, version: RoomVersion, ev: RemoteEvent, unsignedExtra: Record<string, unknown> | null, creator: string): Promise<void> {
    const core = this.core;
    let head = await core.writer.head(b, roomId);
    if (!head) {
      if (!(await core.rooms.get(roomId, b.tx))) {
        b.newRooms.push({ roomId, version: version.id, creator, now: core.now() });
        b.touched.set(roomId, undefined);
      }
      head = { roomId, version, state: StateSnapshot.empty(0, roomId), extremities: [], depth: 0 };
    }
    const membership = typeof ev.pdu.content.membership === 'string' ? ev.pdu.content.membership : 'leave';
    const before = head.state;
    let after: StateSnapshot;
    if (before.group === 0) {
      const group = core.writer.allocateGroup();
      const entry = { type: ev.pdu.type, stateKey: ev.pdu.state_key ?? '', eventId: ev.eventId, membership };
      after = before.withEntries(group, [entry]);
      after = new StateSnapshot(group, roomId, after.map, after.members, 0);
      b.groups.push({ id: group, roomId, prevGroup: null, deltaDepth: 0, entries: [entry] });
      core.stateCache.put(after);
    } else {
      after = await stageStateAfter(core, b, roomId, before, { eventId: ev.eventId, type: ev.pdu.type, stateKey: ev.pdu.state_key, membership });
    }
    const stream = core.eventStream.allocate();
    b.maxStream = Math.max(b.maxStream, stream);
    const existing = (await this.store.known([ev.eventId], b.tx)).get(ev.eventId);
    const unsignedJson = unsignedExtra ? JSON.stringify(unsignedExtra) : null;
    if (existing) {
      b.onFlush((tx) => this.store.promote(tx, ev.eventId, { stream, stateBefore: before.group || null, stateAfter: after.group, outlier: true, rejected: null, unsignedJson }));
      this.forgetAfterCommit(b, ev.eventId);
    } else {
      b.eventRows.push(rowOf(ev, roomId, stream, { state_before: before.group || null, state_after: after.group, outlier: 1, rejected: null, unsigned_json: unsignedJson }));
    }
    this.applyCurrent(b, roomId, before.group ? before : undefined, after);
    core.writer.setHead(b, { ...head, state: after });
    if (ev.pdu.state_key && core.isLocalUser(ev.pdu.state_key)) {
      b.wake.add(ev.pdu.state_key);
      const target = ev.pdu.state_key;
      if (membership === 'invite' || membership === 'knock') b.onFlush((tx) => core.rooms.unforget(tx, target, roomId));
    }
  }

  /**
   * Stores an event fetched by backfill below the room's oldest events: `stream` is a negative
   * position chosen by the caller (newest highest), `before`/`after` its states (already staged).
   * Never a forward extremity, never the current state, no hooks (no notifications for history).
   */
  async persistBackfilled(b: WriteBatch, input: TimelineInput, stream: number, after: StateSnapshot): Promise<void> {
    const { roomId, pdu, eventId } = input;
    const before = input.before.base!;
    const fields = { state_before: before.group || null, state_after: after.group || null, outlier: 0, rejected: input.rejected, unsigned_json: null };
    const existing = (await this.store.known([eventId], b.tx)).get(eventId);
    if (existing) {
      b.onFlush((tx) => this.store.promote(tx, eventId, { stream, stateBefore: fields.state_before, stateAfter: fields.state_after, outlier: false, rejected: input.rejected, unsignedJson: null }));
      this.forgetAfterCommit(b, eventId);
    } else {
      b.eventRows.push(rowOf(input, roomId, stream, fields));
    }
  }
}

/** prev_events as IDs (v1–v2 references are [id, hashes] pairs). */
export function prevIds(pdu: Pdu): string[] {
  return pdu.prev_events.map((r) => (typeof r === 'string' ? r : r[0]));
}

export function authIds(pdu: Pdu): string[] {
  return pdu.auth_events.map((r) => (typeof r === 'string' ? r : r[0]));
}
