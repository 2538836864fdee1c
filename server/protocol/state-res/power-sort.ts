/**
 * Power events and the reverse topological power ordering (fragments/v2-state-res.md "Definitions").
 */
import { own } from '../auth/ids.ts';
import { getPowerLevel } from '../auth/power-levels.ts';
import type { IdentifiedPdu } from '../auth/types.ts';
import { compareCodePoints } from '../canonical-json.ts';
import type { EventCache } from './event-cache.ts';

/**
 * "A power event is a state event with type m.room.power_levels or m.room.join_rules, or a state
 * event with type m.room.member where the membership is leave or ban and the sender does not match
 * the state_key." Like Synapse and Ruma we also count the m.room.create event (it can only be
 * conflicted in a forged room) and require the empty state key for the room-wide types.
 */
export function isPowerEvent(ev: IdentifiedPdu): boolean {
  if (ev.state_key === undefined) return false;
  if (ev.type === 'm.room.power_levels' || ev.type === 'm.room.join_rules' || ev.type === 'm.room.create') return ev.state_key === '';
  if (ev.type === 'm.room.member') {
    const m = own(ev.content, 'membership');
    return (m === 'leave' || m === 'ban') && ev.sender !== ev.state_key;
  }
  return false;
}

/** The (first) event of `type` with state key "" among the event's auth events. */
export function authEventOfType(cache: EventCache, ev: IdentifiedPdu, type: string): IdentifiedPdu | undefined {
  for (const id of cache.authIds(ev)) {
    const a = cache.get(id);
    if (a && a.type === type && a.state_key === '') return a;
  }
  return undefined;
}

/**
 * "x's sender has greater power level than y's sender, when looking at their respective
 * auth_events": the power levels and create event cited by the event itself (v12: creators infinite).
 */
export function senderPowerFromAuthEvents(cache: EventCache, ev: IdentifiedPdu): number {
  const pl = authEventOfType(cache, ev, 'm.room.power_levels');
  const create = authEventOfType(cache, ev, 'm.room.create');
  return getPowerLevel(ev.sender, pl, create, cache.version);
}

export function tsOf(ev: IdentifiedPdu): number {
  return typeof ev.origin_server_ts === 'number' ? ev.origin_server_ts : 0;
}

/** A binary min-heap over indices with a caller-supplied order. */
class Heap {
  private readonly items: number[] = [];
  constructor(private readonly less: (a: number, b: number) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  push(x: number): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): number {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * "The reverse topological power ordering of a set of events is the lexicographically smallest
 * topological ordering based on the DAG formed by auth events … ordered from earliest event to
 * latest", with x < y if x's sender has greater power, else smaller origin_server_ts, else smaller
 * event_id; found with "Kahn's algorithm … at each step selecting, among all the candidate vertices,
 * the smallest vertex". Edges are the auth_events links among `events`; each sender's power level is
 * computed once per event. O((n + e) log n).
 */
export function reverseTopologicalPowerSort(cache: EventCache, events: readonly IdentifiedPdu[]): IdentifiedPdu[] {
  const n = events.length;
  const index = new Map<string, number>();
  events.forEach((ev, i) => index.set(ev.event_id, i));
  const power = events.map((ev) => senderPowerFromAuthEvents(cache, ev));
  const ts = events.map(tsOf);
  const pending = new Array<number>(n).fill(0); // auth events of i not yet emitted
  const citedBy: number[][] = events.map(() => []);
  events.forEach((ev, i) => {
    const seen = new Set<number>();
    for (const a of cache.authIds(ev)) {
      const j = index.get(a);
      if (j === undefined || j === i || seen.has(j)) continue;
      seen.add(j);
      pending[i]!++;
      citedBy[j]!.push(i);
    }
  });
  const less = (a: number, b: number): boolean => {
    if (power[a] !== power[b]) return power[a]! > power[b]!;
    if (ts[a] !== ts[b]) return ts[a]! < ts[b]!;
    return compareCodePoints(events[a]!.event_id, events[b]!.event_id) < 0;
  };
  const heap = new Heap(less);
  for (let i = 0; i < n; i++) if (pending[i] === 0) heap.push(i);
  const out: IdentifiedPdu[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    out.push(events[i]!);
    for (const j of citedBy[i]!) if (--pending[j]! === 0) heap.push(j);
  }
  // A cycle cannot occur in a valid auth DAG (an event cites only earlier events); if forged input
  // contains one, its events are left out rather than looping forever.
  return out;
}
