/** Splitting state sets into unconflicted and conflicted state. */
import type { StateMap } from './types.ts';

export interface Separated {
  unconflicted: Map<string, string>;
  /** key → the different event IDs the sets hold for it (absent sets contribute nothing). */
  conflicted: Map<string, Set<string>>;
}

/**
 * v2 "If a given key K is present in every S_i with the same value V in each state map, then the
 * pair (K, V) belongs to the unconflicted state map. Otherwise, V belongs to the conflicted state
 * set." A key missing from some set is therefore conflicted.
 */
export function separateV2(stateSets: readonly StateMap[]): Separated {
  const unconflicted = new Map<string, string>();
  const conflicted = new Map<string, Set<string>>();
  const keys = new Set<string>();
  for (const s of stateSets) for (const k of s.keys()) keys.add(k);
  for (const k of keys) {
    const first = stateSets[0]!.get(k);
    let same = first !== undefined;
    for (let i = 1; same && i < stateSets.length; i++) same = stateSets[i]!.get(k) === first;
    if (same) {
      unconflicted.set(k, first!);
      continue;
    }
    const values = new Set<string>();
    for (const s of stateSets) {
      const id = s.get(k);
      if (id !== undefined) values.add(id);
    }
    conflicted.set(k, values);
  }
  return { unconflicted, conflicted };
}

/**
 * v1 "A conflict occurs between states where those states have different event_ids for the same
 * (event_type, state_key)"; R starts as "the union of the states to be resolved, excluding any
 * conflicting events", so a key held by only some sets is not a conflict.
 */
export function separateV1(stateSets: readonly StateMap[]): Separated {
  const unconflicted = new Map<string, string>();
  const conflicted = new Map<string, Set<string>>();
  for (const s of stateSets) {
    for (const [k, id] of s) {
      const c = conflicted.get(k);
      if (c) {
        c.add(id);
        continue;
      }
      const u = unconflicted.get(k);
      if (u === undefined) unconflicted.set(k, id);
      else if (u !== id) {
        unconflicted.delete(k);
        conflicted.set(k, new Set([u, id]));
      }
    }
  }
  return { unconflicted, conflicted };
}
