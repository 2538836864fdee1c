/**
 * State resolution for every room version: v1 (room version 1), v2 (2–11), v2.1 (12).
 *
 *   const state = await resolveState(version, [stateA, stateB], { getEvents: (ids) => … });
 */
import type { RoomVersion } from '../room-versions.ts';
import { StateResError, type ResolveOptions, type StateMap, type StateResStore } from './types.ts';
import { resolveV1 } from './v1.ts';
import { resolveV2 } from './v2.ts';

/**
 * The resolution of a set of states (`type\u0000state_key` → event ID each), as a new state map.
 * Deterministic: the result does not depend on the order of the state sets or of the store's answers.
 */
export async function resolveState(
  version: RoomVersion,
  stateSets: readonly StateMap[],
  store: StateResStore,
  opts: ResolveOptions = {},
): Promise<Map<string, string>> {
  if (stateSets.length === 0) throw new StateResError('no state sets to resolve');
  if (stateSets.length === 1) return new Map(stateSets[0]);
  return version.stateRes === 'v1' ? resolveV1(version, stateSets, store, opts) : resolveV2(version, stateSets, store, opts);
}

export { authDifference, conflictedSubgraph } from './auth-chain.ts';
export { EventCache } from './event-cache.ts';
export { iterativeAuthChecks, mainlineSort } from './iterative.ts';
export { isPowerEvent, reverseTopologicalPowerSort } from './power-sort.ts';
export { separateV1, separateV2 } from './separate.ts';
export { StateResError, type ResolveOptions, type StateMap, type StateResStore } from './types.ts';
