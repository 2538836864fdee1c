/** Iterative auth checks and mainline ordering (fragments/v2-state-res.md "Definitions"). */
import { authEventsNeeded } from '../auth/auth-events.ts';
import { checkStateDependent } from '../auth/check.ts';
import { stateKeyOf, type AuthOptions, type IdentifiedPdu } from '../auth/types.ts';
import { compareCodePoints } from '../canonical-json.ts';
import type { EventCache } from './event-cache.ts';
import { authEventOfType, tsOf } from './power-sort.ts';

/** Load what the iterative auth checks will read: each event's auth events and the state entries it needs. */
export async function preloadForAuthChecks(cache: EventCache, events: readonly IdentifiedPdu[], state: ReadonlyMap<string, string>): Promise<void> {
  const ids: string[] = [];
  for (const ev of events) {
    ids.push(...cache.authIds(ev));
    for (const [t, s] of authEventsNeeded(ev, cache.version)) {
      const id = state.get(stateKeyOf(t, s));
      if (id !== undefined) ids.push(id);
    }
  }
  await cache.load(ids);
}

/**
 * "The iterative auth checks algorithm takes as input an initial room state and a sorted list of
 * state events, and constructs a new room state by iterating through the event list and applying
 * the state event to the room state if the state event is allowed by the authorisation rules. …
 * If a (event_type, state_key) key that is required for checking the authorisation rules is not
 * present in the state, then the appropriate state event from the event's auth_events is used if
 * the auth event is not rejected." Rejected events are never used as auth events. Mutates `state`.
 */
export function iterativeAuthChecks(
  cache: EventCache,
  events: readonly IdentifiedPdu[],
  state: Map<string, string>,
  authOptions: AuthOptions,
): Map<string, string> {
  const v = cache.version;
  const opts: AuthOptions = { ...authOptions, isRejected: (id) => cache.isRejected(id) };
  for (const ev of events) {
    if (ev.state_key === undefined) continue;
    const auth = new Map<string, IdentifiedPdu>();
    for (const id of cache.authIds(ev)) {
      const a = cache.get(id);
      if (a && a.state_key !== undefined && !cache.isRejected(id)) auth.set(stateKeyOf(a.type, a.state_key), a);
    }
    for (const [t, s] of authEventsNeeded(ev, v)) {
      const key = stateKeyOf(t, s);
      const id = state.get(key);
      const a = id === undefined ? undefined : cache.get(id);
      if (a && !cache.isRejected(a.event_id)) auth.set(key, a);
    }
    if (checkStateDependent(ev, auth, v, opts).ok) state.set(stateKeyOf(ev.type, ev.state_key), ev.event_id);
  }
  return state;
}

/**
 * "Mainline ordering": the mainline of P is P, the power levels in P's auth events, and so on. An
 * event's mainline position is that of the first event of the mainline met when following the
 * power levels in its auth events (not the event itself); events that never meet it come first.
 * Then by origin_server_ts, then event_id. Positions are memoised per power-levels event, so the
 * cost is linear in the events plus the power-levels history.
 */
export async function mainlineSort(cache: EventCache, events: readonly IdentifiedPdu[], powerLevelsId: string | undefined): Promise<IdentifiedPdu[]> {
  if (events.length === 0) return [];
  // depth: oldest mainline event 1 … resolved power levels n; 0 for "not on the mainline" (the spec's ∞ position).
  const mainline: string[] = [];
  for (let id = powerLevelsId; id !== undefined; ) {
    if (mainline.includes(id)) break; // forged cycle
    mainline.push(id);
    await cache.load([id]);
    const ev = cache.get(id);
    if (!ev) break;
    await cache.load(cache.authIds(ev));
    id = authEventOfType(cache, ev, 'm.room.power_levels')?.event_id;
  }
  const depthOf = new Map<string, number>();
  mainline.forEach((id, i) => depthOf.set(id, mainline.length - i));

  await cache.load(events.flatMap((ev) => cache.authIds(ev)));
  const depth = new Map<string, number>();
  for (const ev of events) {
    // Follow the power-levels chain from ev until a known depth; then give every event walked that depth.
    const walked: string[] = [];
    let d = 0;
    let cur: IdentifiedPdu | undefined = ev;
    for (;;) {
      await cache.load(cache.authIds(cur));
      const pl = authEventOfType(cache, cur, 'm.room.power_levels');
      if (!pl) break;
      const known = depthOf.get(pl.event_id);
      if (known !== undefined) {
        d = known;
        break;
      }
      if (walked.includes(pl.event_id)) break;
      walked.push(pl.event_id);
      cur = pl;
    }
    for (const id of walked) depthOf.set(id, d);
    depth.set(ev.event_id, d);
  }
  return [...events].sort((a, b) => {
    const da = depth.get(a.event_id)!;
    const db = depth.get(b.event_id)!;
    if (da !== db) return da - db;
    const ta = tsOf(a);
    const tb = tsOf(b);
    if (ta !== tb) return ta - tb;
    return compareCodePoints(a.event_id, b.event_id);
  });
}
