/**
 * Auth difference and (v12) conflicted state subgraph (fragments/v2-state-res.md and v12.md
 * "Definitions").
 */
import type { EventCache } from './event-cache.ts';

/**
 * "The auth difference is calculated by first calculating the full auth chain for each state S_i,
 * that is the union of the auth chains for each event in S_i, and then taking every event that
 * doesn't appear in every auth chain: ∪C_i − ∩C_i."
 *
 * Like Synapse (the reference implementation other servers converge with), a state set's own events
 * count as part of its full auth chain. The two readings differ only for unconflicted state events
 * cited by some sets' chains but not others': here they stay out of the difference (they are in the
 * state anyway and step 5 restores them), so we re-check exactly what Synapse re-checks.
 *
 * Computed without walking the shared history per set: with U the unconflicted events and A(x) the
 * auth chain, every C_i contains U ∪ A(U), so the difference is ∪E_i − ∩E_i − (U ∪ A(U)) with
 * E_i = conflicted_i ∪ A(conflicted_i); the walks of the E_i stop where they reach U ∪ A(U).
 */
export async function authDifference(
  cache: EventCache,
  unconflicted: ReadonlySet<string>,
  conflictedPerSet: ReadonlyArray<ReadonlySet<string>>,
  getAuthChain?: (ids: readonly string[]) => Promise<Iterable<string>> | Iterable<string>,
): Promise<Set<string>> {
  const chainOf = async (ids: Iterable<string>, stopAt?: ReadonlySet<string>): Promise<Set<string>> =>
    getAuthChain ? new Set(await getAuthChain([...ids])) : cache.walkAuthChain(ids, stopAt);

  const shared = await chainOf(unconflicted);
  for (const id of unconflicted) shared.add(id);

  const perSet: Set<string>[] = [];
  for (const conflicted of conflictedPerSet) {
    const e = await chainOf(conflicted, shared);
    for (const id of conflicted) e.add(id);
    for (const id of shared) e.delete(id);
    perSet.push(e);
  }
  const union = new Set<string>();
  for (const e of perSet) for (const id of e) union.add(id);
  const diff = new Set<string>();
  for (const id of union) if (!perSet.every((e) => e.has(id))) diff.add(id);
  return diff;
}

/**
 * In v12: "Starting from an event in the conflicted state set and following auth_events edges may
 * lead to another event in the conflicted state set. The union of all such paths between any pair
 * of events in the conflicted state set (including endpoints) forms … the conflicted state subgraph."
 *
 * Walk down from the conflicted events recording reverse edges; then walk back up from every
 * conflicted event reached that way. What the upward walk meets lies on a path between two
 * conflicted events. Linear in the size of the conflicted events' auth chains.
 */
export async function conflictedSubgraph(cache: EventCache, conflicted: ReadonlySet<string>): Promise<Set<string>> {
  const citedBy = new Map<string, string[]>();
  const visited = new Set<string>(conflicted);
  const reachedConflicted = new Set<string>();
  let frontier = [...conflicted];
  while (frontier.length > 0) {
    await cache.load(frontier);
    const next: string[] = [];
    for (const id of frontier) {
      const ev = cache.get(id);
      if (!ev) continue;
      for (const a of cache.authIds(ev)) {
        let list = citedBy.get(a);
        if (!list) citedBy.set(a, (list = []));
        list.push(id);
        if (conflicted.has(a)) reachedConflicted.add(a);
        if (!visited.has(a)) {
          visited.add(a);
          next.push(a);
        }
      }
    }
    frontier = next;
  }
  const subgraph = new Set<string>(reachedConflicted);
  const stack = [...reachedConflicted];
  while (stack.length > 0) {
    const id = stack.pop()!;
    for (const child of citedBy.get(id) ?? []) {
      if (!subgraph.has(child)) {
        subgraph.add(child);
        stack.push(child);
      }
    }
  }
  return subgraph;
}
