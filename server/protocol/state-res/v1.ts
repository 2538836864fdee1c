/**
 * State resolution v1 (room version 1, rooms/v1.md "State resolution"). Known to reset state
 * (the spec's warning); kept only because v1 rooms still exist.
 */
import { createHash } from 'node:crypto';
import { authEventsNeeded } from '../auth/auth-events.ts';
import { checkStateDependent } from '../auth/check.ts';
import { splitStateKey, stateKeyOf, type AuthOptions, type IdentifiedPdu } from '../auth/types.ts';
import type { RoomVersion } from '../room-versions.ts';
import { EventCache } from './event-cache.ts';
import { separateV1 } from './separate.ts';
import type { ResolveOptions, StateMap, StateResStore } from './types.ts';

function sha1Hex(s: string): string {
  return createHash('sha1').update(s, 'utf8').digest('hex');
}

function depthOf(ev: IdentifiedPdu): number {
  return typeof ev.depth === 'number' ? ev.depth : 0;
}

/** "Sort the list by ascending depth then descending sha1(event_id)." */
function ascendingDepthDescendingSha1(events: IdentifiedPdu[]): IdentifiedPdu[] {
  const h = new Map(events.map((e) => [e.event_id, sha1Hex(e.event_id)]));
  return [...events].sort((a, b) => depthOf(a) - depthOf(b) || (h.get(b.event_id)! < h.get(a.event_id)! ? -1 : h.get(b.event_id)! > h.get(a.event_id)! ? 1 : 0));
}

export async function resolveV1(
  version: RoomVersion,
  stateSets: readonly StateMap[],
  store: StateResStore,
  opts: ResolveOptions = {},
): Promise<Map<string, string>> {
  const { unconflicted, conflicted } = separateV1(stateSets);
  if (conflicted.size === 0) return unconflicted;
  const cache = new EventCache(store, version, opts.roomId);
  const authOptions: AuthOptions = { ...opts.authOptions, isRejected: (id) => cache.isRejected(id) };

  // "Start by setting R to the union of the states to be resolved, excluding any conflicting events."
  const r = new Map(unconflicted);
  const conflictedEvents = new Map<string, IdentifiedPdu[]>();
  await cache.load([...conflicted.values()].flatMap((ids) => [...ids]));
  for (const [key, ids] of conflicted) {
    const evs = [...ids].map((id) => cache.get(id)).filter((e): e is IdentifiedPdu => e !== undefined);
    if (evs.length === 1) r.set(key, evs[0]!.event_id);
    else if (evs.length > 1) conflictedEvents.set(key, evs);
  }
  const everything = [...conflictedEvents.values()].flat();
  await cache.load(everything.flatMap((ev) => authEventsNeeded(ev, version).flatMap(([t, s]) => r.get(stateKeyOf(t, s)) ?? [])));

  const allowedIn = (ev: IdentifiedPdu, state: ReadonlyMap<string, string>): boolean => {
    const auth = new Map<string, IdentifiedPdu>();
    for (const [t, s] of authEventsNeeded(ev, version)) {
      const id = state.get(stateKeyOf(t, s));
      const a = id === undefined ? undefined : cache.get(id);
      if (a && !cache.isRejected(a.event_id)) auth.set(stateKeyOf(t, s), a);
    }
    return checkStateDependent(ev, auth, version, authOptions).ok;
  };

  // Power levels, then join rules, then memberships: "Add the first event in the list to R. For each
  // subsequent event in the list, check that the event would be allowed by the authorisation rules
  // for a room in state R. If the event would be allowed, then update R with the event and continue
  // with the next event in the list. If it would not be allowed, stop." Like Synapse, each
  // membership key is resolved against R as it stood after the join rules, so the keys' order
  // does not matter.
  const resolveAuthKey = (key: string, base: ReadonlyMap<string, string>): string => {
    const sorted = ascendingDepthDescendingSha1(conflictedEvents.get(key)!);
    const state = new Map(base);
    let chosen = sorted[0]!;
    state.set(key, chosen.event_id);
    for (const ev of sorted.slice(1)) {
      if (!allowedIn(ev, state)) break;
      chosen = ev;
      state.set(key, ev.event_id);
    }
    return chosen.event_id;
  };
  for (const type of ['m.room.power_levels', 'm.room.join_rules']) {
    const key = stateKeyOf(type, '');
    if (conflictedEvents.has(key)) r.set(key, resolveAuthKey(key, r));
  }
  const memberKeys = [...conflictedEvents.keys()].filter((k) => splitStateKey(k)[0] === 'm.room.member').sort();
  const afterJoinRules = new Map(r);
  for (const key of memberKeys) r.set(key, resolveAuthKey(key, afterJoinRules));

  // "No other events affect the authorisation rules, so for all other conflicts, just pick the event
  // with the highest depth and lowest sha1(event_id) that passes authentication in R." If none
  // passes, like Synapse, the one with the lowest depth is kept.
  const afterMembers = new Map(r);
  for (const [key, evs] of conflictedEvents) {
    const [type] = splitStateKey(key);
    if (type === 'm.room.member' || key === stateKeyOf('m.room.power_levels', '') || key === stateKeyOf('m.room.join_rules', '')) continue;
    const ordered = ascendingDepthDescendingSha1(evs).reverse();
    r.set(key, (ordered.find((ev) => allowedIn(ev, afterMembers)) ?? ordered[ordered.length - 1]!).event_id);
  }
  return r;
}
