/**
 * Seeded random room histories with forks, for property tests: a room with some members, then
 * several forks each applying random state changes (power levels, bans, kicks, joins, leaves,
 * join rules, topics, names). Events are not auth-checked when built — like a hostile federation,
 * forks may contain events that fail auth — and timestamps collide on purpose to exercise tie breaks.
 */
import { authEventsNeeded } from '../../../server/protocol/auth/auth-events.ts';
import { stateKeyOf } from '../../../server/protocol/auth/types.ts';
import type { JsonObject } from '../../../server/protocol/pdu-types.ts';
import type { RoomVersion } from '../../../server/protocol/room-versions.ts';
import { ALICE, initialEvents, makeEvent, MemoryStore, nameOf, type FixtureEvent } from './graph.ts';

/** mulberry32: a small deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffler(rand: () => number): <T>(xs: T[]) => T[] {
  return <T>(xs: T[]): T[] => {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  };
}

export interface RandomForks {
  store: MemoryStore;
  stateSets: Map<string, string>[];
}

export function randomForks(seed: number, version: RoomVersion, opts: { members?: number; forks?: number; steps?: number } = {}): RandomForks {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const users = [ALICE, ...Array.from({ length: opts.members ?? 8 }, (_, i) => `@u${i}:${i % 2 ? 'example.com' : 'other.test'}`)];
  const outsiders = ['@x1:x.test', '@x2:x.test'];
  const store = new MemoryStore();
  let ts = 0;
  let n = 0;

  const add = (f: Omit<FixtureEvent, 'id'>, state: Map<string, string>, prev: string[], depth: number): string => {
    const id = `E${n++}`;
    const draft = makeEvent({ ...f, id }, version, [], prev, 0, 0);
    const auth = authEventsNeeded(draft, version).flatMap(([t, s]) => {
      const e = state.get(stateKeyOf(t, s));
      return e === undefined ? [] : [nameOf(e)];
    });
    ts += Math.floor(rand() * 3); // collisions on purpose
    const ev = makeEvent({ ...f, id }, version, auth, prev, ts, depth);
    store.events.set(ev.event_id, ev);
    if (f.state_key !== undefined) state.set(stateKeyOf(f.type, f.state_key), ev.event_id);
    return id;
  };

  // The shared start: create, Alice's join and power levels, public join rules, members.
  const base = new Map<string, string>();
  let prev: string[] = [];
  let depth = 1;
  const chain = (f: Omit<FixtureEvent, 'id'>, state: Map<string, string>): void => {
    prev = [add(f, state, prev, depth++)];
  };
  const [create, aliceJoin, power, joinRules] = initialEvents();
  for (const f of [create!, aliceJoin!, power!, joinRules!]) chain({ ...f }, base);
  for (const u of users.slice(1)) chain({ sender: u, type: 'm.room.member', state_key: u, content: { membership: 'join' } }, base);
  const levels: JsonObject = { [ALICE]: 100 };
  for (const u of users.slice(1, 4)) levels[u] = 50;
  chain({ sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { ...levels } } }, base);
  const forkPoint = prev;
  const forkDepth = depth;

  const stateSets: Map<string, string>[] = [];
  for (let f = 0; f < (opts.forks ?? 2); f++) {
    const state = new Map(base);
    prev = forkPoint;
    depth = forkDepth;
    for (let s = 0; s < (opts.steps ?? 12); s++) {
      const sender = pick(users);
      const target = pick([...users, ...outsiders]);
      switch (Math.floor(rand() * 8)) {
        case 0: {
          const users2: JsonObject = { ...levels, [pick(users.slice(1))]: pick([0, 50, 100]) };
          chain({ sender: pick([ALICE, ...users.slice(1, 4)]), type: 'm.room.power_levels', state_key: '', content: { users: users2 } }, state);
          break;
        }
        case 1:
          chain({ sender, type: 'm.room.member', state_key: target, content: { membership: pick(['ban', 'leave']) } }, state);
          break;
        case 2:
          chain({ sender: target, type: 'm.room.member', state_key: target, content: { membership: pick(['join', 'leave']) } }, state);
          break;
        case 3:
          chain({ sender: pick([ALICE, sender]), type: 'm.room.join_rules', state_key: '', content: { join_rule: pick(['public', 'invite']) } }, state);
          break;
        case 4:
          chain({ sender, type: 'm.room.member', state_key: target, content: { membership: 'invite' } }, state);
          break;
        case 5:
          chain({ sender, type: 'm.room.name', state_key: '', content: { name: `n${s}` } }, state);
          break;
        default:
          chain({ sender, type: 'm.room.topic', state_key: '', content: { topic: `t${f}.${s}` } }, state);
      }
    }
    stateSets.push(state);
  }
  return { store, stateSets };
}
