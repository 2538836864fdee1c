/**
 * Property: shuffling the inputs never changes the resolution — not the order of the state sets,
 * not the order of entries in each state map, not the order in which the store returns events,
 * and not whether the store answers synchronously, asynchronously, or with its own auth chains.
 * Checked on every fixture scenario and on seeded random forked rooms, in v1, v2, v10 and v12.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IdentifiedPdu } from '../../../server/protocol/auth/types.ts';
import { getRoomVersion, type RoomVersion } from '../../../server/protocol/room-versions.ts';
import { resolveState } from '../../../server/protocol/state-res/index.ts';
import type { StateResStore } from '../../../server/protocol/state-res/types.ts';
import { buildExplicit, buildGraph, loadFixtures, MemoryStore, nameOf, type Fixture } from './graph.ts';
import { prng, randomForks, shuffler } from './random-room.ts';

/** A store that also answers auth-chain queries itself (walking the events it holds). */
function withAuthChains(events: ReadonlyMap<string, IdentifiedPdu>, version: RoomVersion): StateResStore {
  const store = new MemoryStore(true);
  for (const [id, ev] of events) store.events.set(id, ev);
  return Object.assign(store, {
    getAuthChain(ids: readonly string[]): Promise<string[]> {
      const seen = new Set<string>();
      const stack = [...ids];
      while (stack.length > 0) {
        const ev = events.get(stack.pop()!);
        if (!ev) continue;
        const auth = ev.auth_events.map((r) => (typeof r === 'string' ? r : r[0]));
        if (version.roomIdFromCreateEvent && ev.room_id && ev.type !== 'm.room.create') auth.push(`$${ev.room_id.slice(1)}`);
        for (const a of auth) if (!seen.has(a)) (seen.add(a), stack.push(a));
      }
      return Promise.resolve([...seen]);
    },
  });
}

async function assertOrderIndependent(version: RoomVersion, stateSets: Map<string, string>[], events: ReadonlyMap<string, IdentifiedPdu>, seed: number): Promise<void> {
  const plain = new MemoryStore();
  for (const [id, ev] of events) plain.events.set(id, ev);
  const reference = await resolveState(version, stateSets, plain);
  const sorted = (m: Map<string, string>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
  const rand = prng(seed);
  const shuffle = shuffler(rand);
  for (let round = 0; round < 6; round++) {
    const sets = shuffle(stateSets).map((s) => new Map(shuffle([...s])));
    let store: StateResStore;
    if (round % 3 === 2) store = withAuthChains(events, version);
    else {
      const s = new MemoryStore(round % 2 === 1, shuffle);
      for (const [id, ev] of shuffle([...events])) s.events.set(id, ev);
      store = s;
    }
    const again = await resolveState(version, sets, store);
    assert.deepEqual(sorted(again), sorted(reference), `round ${round}`);
  }
}

const VERSIONS = ['1', '2', '10', '12'].map((id) => getRoomVersion(id)!);

describe('resolution is independent of input order: fixture scenarios', () => {
  for (const f of loadFixtures() as Fixture[]) {
    for (const v of VERSIONS) {
      if (f.versions && !f.versions.includes(v.id)) continue;
      it(`${f.name} (v${v.id})`, async () => {
        if (f.stateSets) {
          const { store, stateSets } = buildExplicit(f, v);
          await assertOrderIndependent(v, stateSets, store.events, 1);
        } else {
          const { store, stateAfter } = await buildGraph(f, v);
          const endPrevs = store.events.get('$END:example.com')!.prev_events.map((r) => nameOf(typeof r === 'string' ? r : r[0]));
          await assertOrderIndependent(v, endPrevs.map((p) => stateAfter.get(p)!), store.events, 2);
        }
      });
    }
  }
});

describe('resolution is independent of input order: random forked rooms', () => {
  for (const v of VERSIONS) {
    it(`40 seeded rooms with 2–3 forks (v${v.id})`, async () => {
      for (let seed = 1; seed <= 40; seed++) {
        const { store, stateSets } = randomForks(seed, v, { forks: 2 + (seed % 2), steps: 10 + (seed % 7) });
        await assertOrderIndependent(v, stateSets, store.events, seed * 7919);
      }
    });
  }
});
