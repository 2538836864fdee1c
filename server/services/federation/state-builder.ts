/**
 * Room state for remote events: state resolution over stored events (server-server-api "Room
 * State Resolution", the room version's algorithm in protocol/state-res) and turning a resolved
 * state map into a state group staged in a write batch (a delta on a base group when possible).
 */
import type { RoomCore } from '../rooms/core.ts';
import type { WriteTx } from '../../storage/db.ts';
import type { StateEntry } from '../../storage/state-store.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import type { IdentifiedPdu } from '../../protocol/auth/index.ts';
import { resolveState, type StateResStore } from '../../protocol/state-res/index.ts';
import { MAX_DELTA_DEPTH, StateSnapshot, splitSk } from '../state/state-cache.ts';
import type { StoredEvent } from '../events/event-cache.ts';
import type { WriteBatch } from '../events/write-batch.ts';

export function identified(ev: StoredEvent): IdentifiedPdu {
  return { ...ev.pdu, event_id: ev.eventId };
}

/** State resolution's view of the event store (inside a write job, pass its tx). */
export function stateResStore(core: RoomCore, tx?: WriteTx): StateResStore {
  return {
    getEvents: async (ids) => [...(await core.eventCache.getMany(ids, tx)).values()].map(identified),
    getRejected: async (ids) => [...(await core.eventCache.getMany(ids, tx)).values()].filter((e) => e.rejected !== null).map((e) => e.eventId),
  };
}

/** Resolves several states of a room into one map (key → event ID). One state is returned as is. */
export async function resolveSnapshots(core: RoomCore, version: RoomVersion, roomId: string, states: readonly StateSnapshot[], tx?: WriteTx): Promise<Map<string, string>> {
  const distinct = [...new Map(states.map((s) => [s.group, s])).values()];
  if (distinct.length === 1) return new Map(distinct[0]!.map);
  return resolveState(
    version,
    distinct.map((s) => s.map),
    stateResStore(core, tx),
    { roomId },
  );
}

/** Resolves state maps (some not stored as groups, e.g. from /state_ids). */
export async function resolveMaps(core: RoomCore, version: RoomVersion, roomId: string, maps: ReadonlyArray<ReadonlyMap<string, string>>, tx?: WriteTx): Promise<Map<string, string>> {
  if (maps.length === 1) return new Map(maps[0]!);
  return resolveState(version, maps, stateResStore(core, tx), { roomId });
}

/** content.membership of member events (for state group rows and snapshots). */
async function memberships(core: RoomCore, ids: Iterable<string>, tx?: WriteTx): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const ev of (await core.eventCache.getMany(ids, tx)).values()) {
    if (ev.type !== 'm.room.member') continue;
    const m = ev.pdu.content.membership;
    out.set(ev.eventId, typeof m === 'string' ? m : 'leave');
  }
  return out;
}

/**
 * A snapshot for `map`, reusing `base` when equal, else staging a new group in `b`: a delta on
 * `base` when it only adds or replaces entries (and the delta chain is short), otherwise a full
 * snapshot. The snapshot is put in the state cache (like the writer does for local events).
 */
export async function stageState(
  core: RoomCore,
  b: WriteBatch,
  roomId: string,
  base: StateSnapshot | undefined,
  map: ReadonlyMap<string, string>,
  /** content.membership of member events when the caller has them (saves loading thousands of events). */
  knownMemberships?: ReadonlyMap<string, string>,
): Promise<StateSnapshot> {
  const changed: Array<[string, string]> = [];
  let removed = false;
  if (base) {
    for (const [k, id] of map) if (base.map.get(k) !== id) changed.push([k, id]);
    for (const k of base.map.keys()) if (!map.has(k)) removed = true;
    if (changed.length === 0 && !removed) return base;
  } else {
    changed.push(...map);
  }
  const memberIds = changed.filter(([k]) => k.startsWith('m.room.member\u0000')).map(([, id]) => id);
  const ms = knownMemberships && memberIds.every((id) => knownMemberships.has(id)) ? knownMemberships : await memberships(core, memberIds, b.tx);
  const entry = ([k, id]: [string, string]): StateEntry => {
    const [type, stateKey] = splitSk(k);
    return { type, stateKey, eventId: id, membership: type === 'm.room.member' ? (ms.get(id) ?? 'leave') : null };
  };
  const group = core.writer.allocateGroup();
  if (base && !removed && base.deltaDepth + 1 < MAX_DELTA_DEPTH) {
    const entries = changed.map(entry);
    const snap = base.withEntries(group, entries);
    b.groups.push({ id: group, roomId, prevGroup: base.group, deltaDepth: snap.deltaDepth, entries });
    core.stateCache.put(snap);
    return snap;
  }
  // Full snapshot: memberships of unchanged member entries come from the base snapshot.
  const members = new Map<string, string>();
  const entries: StateEntry[] = [];
  const changedKeys = new Set(changed.map(([k]) => k));
  for (const [k, id] of map) {
    const [type, stateKey] = splitSk(k);
    let membership: string | null = null;
    if (type === 'm.room.member') {
      membership = changedKeys.has(k) ? (ms.get(id) ?? 'leave') : (base?.membership(stateKey) ?? 'leave');
      members.set(stateKey, membership);
    }
    entries.push({ type, stateKey, eventId: id, membership });
  }
  const snap = new StateSnapshot(group, roomId, new Map(map), members, 0);
  b.groups.push({ id: group, roomId, prevGroup: null, deltaDepth: 0, entries });
  core.stateCache.put(snap);
  return snap;
}

/** The state after an event: `before` plus the event when it is an accepted state event. */
export async function stageStateAfter(core: RoomCore, b: WriteBatch, roomId: string, before: StateSnapshot, ev: { eventId: string; type: string; stateKey?: string; membership: string | null }): Promise<StateSnapshot> {
  if (ev.stateKey === undefined) return before;
  const group = core.writer.allocateGroup();
  const entry: StateEntry = { type: ev.type, stateKey: ev.stateKey, eventId: ev.eventId, membership: ev.type === 'm.room.member' ? (ev.membership ?? 'leave') : null };
  const snap = before.withEntries(group, [entry]);
  const full = snap.deltaDepth === 0;
  b.groups.push({ id: group, roomId, prevGroup: full ? null : before.group, deltaDepth: snap.deltaDepth, entries: full ? snap.entries() : [entry] });
  core.stateCache.put(snap);
  return snap;
}

/** Snapshots of several groups (inside a job pass tx). */
export function loadGroups(core: RoomCore, groups: readonly number[], tx?: WriteTx): Promise<StateSnapshot[]> {
  return Promise.all(groups.map((g) => core.stateCache.get(g, tx)));
}
