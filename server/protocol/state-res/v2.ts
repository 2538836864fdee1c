/**
 * State resolution v2 (room versions 2–11, fragments/v2-state-res.md "Algorithm") and its v12
 * revision "v2.1" (rooms/v12.md "State resolution"): the iterative auth checks start from an empty
 * state map, and the full conflicted set also contains the conflicted state subgraph.
 */
import type { IdentifiedPdu } from '../auth/types.ts';
import { stateKeyOf } from '../auth/types.ts';
import type { RoomVersion } from '../room-versions.ts';
import { authDifference, conflictedSubgraph } from './auth-chain.ts';
import { EventCache } from './event-cache.ts';
import { iterativeAuthChecks, mainlineSort, preloadForAuthChecks } from './iterative.ts';
import { isPowerEvent, reverseTopologicalPowerSort } from './power-sort.ts';
import { separateV2 } from './separate.ts';
import type { ResolveOptions, StateMap, StateResStore } from './types.ts';

export async function resolveV2(
  version: RoomVersion,
  stateSets: readonly StateMap[],
  store: StateResStore,
  opts: ResolveOptions = {},
): Promise<Map<string, string>> {
  const v21 = version.stateRes === 'v2.1';
  const { unconflicted, conflicted } = separateV2(stateSets);
  if (conflicted.size === 0) return unconflicted;
  const cache = new EventCache(store, version, opts.roomId);

  // Full conflicted set = conflicted state set ∪ auth difference (∪, in v12, conflicted state subgraph).
  const conflictedIds = new Set<string>();
  for (const ids of conflicted.values()) for (const id of ids) conflictedIds.add(id);
  const unconflictedIds = new Set(unconflicted.values());
  const conflictedPerSet = stateSets.map((s) => {
    const mine = new Set<string>();
    for (const id of s.values()) if (conflictedIds.has(id)) mine.add(id);
    return mine;
  });
  const getAuthChain = store.getAuthChain?.bind(store);
  const full = new Set(conflictedIds);
  for (const id of await authDifference(cache, unconflictedIds, conflictedPerSet, getAuthChain)) full.add(id);
  if (v21) for (const id of await conflictedSubgraph(cache, conflictedIds)) full.add(id);
  await cache.load(full);
  // Events we cannot load take no part (Synapse: "everything in the event map should be in the room").
  const fullEvents: IdentifiedPdu[] = [];
  for (const id of full) {
    const ev = cache.get(id);
    if (ev) fullEvents.push(ev);
  }
  await cache.load(fullEvents.flatMap((ev) => cache.authIds(ev)));

  // 1. "Select the set X of all power events that appear in the full conflicted set. For each such
  // power event P, enlarge X by adding the events in the auth chain of P which also belong to the
  // full conflicted set. Sort X into a list using the reverse topological power ordering."
  const inFull = new Map(fullEvents.map((ev) => [ev.event_id, ev]));
  const x = new Map<string, IdentifiedPdu>();
  const stack = fullEvents.filter(isPowerEvent);
  while (stack.length > 0) {
    const ev = stack.pop()!;
    if (x.has(ev.event_id)) continue;
    x.set(ev.event_id, ev);
    for (const a of cache.authIds(ev)) {
      const ae = inFull.get(a);
      if (ae && !x.has(a)) stack.push(ae);
    }
  }
  const sortedPower = reverseTopologicalPowerSort(cache, [...x.values()]);

  // 2. "Apply the iterative auth checks algorithm, starting from the unconflicted state map" —
  // in v12 "starting from an empty state map" — "to the list of events from the previous step to
  // get a partially resolved state."
  const partial = new Map<string, string>(v21 ? [] : unconflicted);
  await preloadForAuthChecks(cache, sortedPower, partial);
  iterativeAuthChecks(cache, sortedPower, partial, opts.authOptions ?? {});

  // 3. "Take all remaining events that weren't picked in step 1 and order them by the mainline
  // ordering based on the power level in the partially resolved state obtained in step 2."
  const leftover = fullEvents.filter((ev) => !x.has(ev.event_id));
  const sortedLeftover = await mainlineSort(cache, leftover, partial.get(stateKeyOf('m.room.power_levels', '')));

  // 4. "Apply the iterative auth checks algorithm on the partial resolved state and the list of
  // events from the previous step."
  await preloadForAuthChecks(cache, sortedLeftover, partial);
  iterativeAuthChecks(cache, sortedLeftover, partial, opts.authOptions ?? {});

  // 5. "Update the result by replacing any event with the event with the same key from the
  // unconflicted state map, if such an event exists, to get the final resolved state."
  for (const [k, id] of unconflicted) partial.set(k, id);
  return partial;
}
