/**
 * The building blocks of state resolution on tiny hand-made graphs: separation, auth difference,
 * v12 conflicted subgraph, Kahn's ordering with the spec's tie breaks, mainline ordering, and the
 * handling of rejected, missing and foreign events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stateKeyOf, type IdentifiedPdu } from '../../../server/protocol/auth/types.ts';
import type { JsonObject } from '../../../server/protocol/pdu-types.ts';
import { getRoomVersion } from '../../../server/protocol/room-versions.ts';
import { authDifference, conflictedSubgraph } from '../../../server/protocol/state-res/auth-chain.ts';
import { EventCache } from '../../../server/protocol/state-res/event-cache.ts';
import { mainlineSort } from '../../../server/protocol/state-res/iterative.ts';
import { reverseTopologicalPowerSort } from '../../../server/protocol/state-res/power-sort.ts';
import { resolveState, StateResError } from '../../../server/protocol/state-res/index.ts';
import { separateV1, separateV2 } from '../../../server/protocol/state-res/separate.ts';
import { ALICE, idOf, makeEvent, MemoryStore, nameOf, type FixtureEvent } from './graph.ts';

const v2 = getRoomVersion('2')!;
const v12 = getRoomVersion('12')!;
const BOB = '@bob:example.com';

/** Events by name with explicit auth (names) and timestamps. */
function bag(version = v2, specs: Array<[FixtureEvent, string[], number?]>): MemoryStore {
  const store = new MemoryStore();
  specs.forEach(([f, auth, ts], i) => store.events.set(idOf(f.id), makeEvent(f, version, auth, [], ts ?? 0, i + 1)));
  return store;
}
const state = (id: string, type = 'x.state', stateKey = id, content: JsonObject = {}, sender = ALICE): FixtureEvent => ({ id, type, state_key: stateKey, content, sender });
const ids = (xs: Iterable<string>) => [...xs].map(nameOf).sort();

describe('separating state sets', () => {
  const a = new Map([['k1', '$A'], ['k2', '$B']]);
  const b = new Map([['k1', '$A'], ['k2', '$C'], ['k3', '$D']]);
  it('v2: a key missing from one set is conflicted', () => {
    const { unconflicted, conflicted } = separateV2([a, b]);
    assert.deepEqual([...unconflicted], [['k1', '$A']]);
    assert.deepEqual([...conflicted].map(([k, s]) => [k, [...s].sort()]), [['k2', ['$B', '$C']], ['k3', ['$D']]]);
  });
  it('v1: only different event IDs for the same key conflict', () => {
    const { unconflicted, conflicted } = separateV1([a, b]);
    assert.deepEqual([...unconflicted].sort(), [['k1', '$A'], ['k3', '$D']]);
    assert.deepEqual([...conflicted.keys()], ['k2']);
  });
});

describe('auth difference', () => {
  it('counts a state set’s own events as part of its auth chain (C → B → A; sets {A,B} and {C} differ by C)', async () => {
    const store = bag(v2, [[state('A'), []], [state('B'), ['A']], [state('C'), ['B']]]);
    const diff = await authDifference(new EventCache(store, v2, undefined), new Set(), [new Set([idOf('A'), idOf('B')]), new Set([idOf('C')])]);
    assert.deepEqual(ids(diff), ['C']);
  });
  it('is what one side reaches and the other does not, minus the shared history', async () => {
    // S → R → Q → P ; T → P ; the unconflicted U cites Q.
    const store = bag(v2, [[state('P'), []], [state('Q'), ['P']], [state('R'), ['Q']], [state('S'), ['R']], [state('T'), ['P']], [state('U'), ['Q']]]);
    const diff = await authDifference(new EventCache(store, v2, undefined), new Set([idOf('U')]), [new Set([idOf('S')]), new Set([idOf('T')])]);
    assert.deepEqual(ids(diff), ['R', 'S', 'T']);
  });
});

describe('conflicted state subgraph (v12)', () => {
  it('holds the events on auth paths between conflicted events, not their common ancestors', async () => {
    // D → C → B → A, and E → A; conflicted: D, B, E.
    const store = bag(v12, [[state('A'), []], [state('B'), ['A']], [state('C'), ['B']], [state('D'), ['C']], [state('E'), ['A']]]);
    const sub = await conflictedSubgraph(new EventCache(store, v12, undefined), new Set(['D', 'B', 'E'].map(idOf)));
    assert.deepEqual(ids(sub), ['B', 'C', 'D']);
  });
});

describe('reverse topological power ordering', () => {
  it('is Kahn’s algorithm taking the smallest candidate (Synapse’s lexicographical example)', async () => {
    // l → o, m → n, m → o, n → o, p → o; equal power and timestamps: event IDs break ties.
    const store = bag(v2, [[state('o'), []], [state('l'), ['o']], [state('m'), ['n', 'o']], [state('n'), ['o']], [state('p'), ['o']]]);
    const cache = new EventCache(store, v2, undefined);
    await cache.load(store.events.keys());
    const sorted = reverseTopologicalPowerSort(cache, [...store.events.values()].reverse());
    assert.deepEqual(sorted.map((e) => nameOf(e.event_id)), ['o', 'l', 'n', 'm', 'p']);
  });
  it('puts the more powerful sender first, then the earlier timestamp, then the smaller ID', async () => {
    const store = bag(v2, [
      [{ id: 'CREATE', type: 'm.room.create', state_key: '', content: {}, sender: ALICE }, []],
      [{ id: 'PL', type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100, [BOB]: 50 } }, sender: ALICE }, ['CREATE']],
      [state('bob1', 'x', 'a', {}, BOB), ['CREATE', 'PL'], 1],
      [state('alice9', 'x', 'b', {}, ALICE), ['CREATE', 'PL'], 9],
      [state('bob0b', 'x', 'c', {}, BOB), ['CREATE', 'PL'], 1],
      [state('bob0a', 'x', 'd', {}, BOB), ['CREATE', 'PL'], 0],
    ]);
    const cache = new EventCache(store, v2, undefined);
    await cache.load(store.events.keys());
    const evs = ['bob1', 'alice9', 'bob0b', 'bob0a'].map((n) => store.events.get(idOf(n))!);
    assert.deepEqual(reverseTopologicalPowerSort(cache, evs).map((e) => nameOf(e.event_id)), ['alice9', 'bob0a', 'bob0b', 'bob1']);
  });
});

describe('mainline ordering', () => {
  it('sorts by the power levels each event is based on, then by timestamp', async () => {
    const pl = (id: string): FixtureEvent => ({ id, type: 'm.room.power_levels', state_key: '', content: {}, sender: ALICE });
    const store = bag(v2, [
      [pl('P1'), []], [pl('P2'), ['P1']], [pl('P3'), ['P2']], [pl('Q'), ['P1']],
      [state('onP3', 'x', 'a'), ['P3'], 1], [state('onQ', 'x', 'b'), ['Q'], 2], [state('none', 'x', 'c'), [], 5], [state('onP2', 'x', 'd'), ['P2'], 0],
    ]);
    const cache = new EventCache(store, v2, undefined);
    const evs = ['onP3', 'onQ', 'none', 'onP2'].map((n) => store.events.get(idOf(n))!);
    const sorted = await mainlineSort(cache, evs, idOf('P3'));
    // "none" has no power levels (position ∞: first); onQ reaches the mainline at P1, onP2 at P2, onP3 at P3.
    assert.deepEqual(sorted.map((e) => nameOf(e.event_id)), ['none', 'onQ', 'onP2', 'onP3']);
  });
});

describe('resolveState edge cases', () => {
  const room = (): MemoryStore =>
    bag(v2, [
      [{ id: 'CREATE', type: 'm.room.create', state_key: '', content: { creator: ALICE }, sender: ALICE }, []],
      [{ id: 'MA', type: 'm.room.member', state_key: ALICE, content: { membership: 'join' }, sender: ALICE }, ['CREATE']],
      [{ id: 'MB', type: 'm.room.member', state_key: BOB, content: { membership: 'join' }, sender: BOB }, ['CREATE']],
      [{ id: 'PL', type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100, [BOB]: 50 } }, sender: ALICE }, ['CREATE', 'MA']],
      [{ id: 'TA', type: 'm.room.topic', state_key: '', content: { topic: 'a' }, sender: ALICE }, ['CREATE', 'MA', 'PL'], 5],
      [{ id: 'TB', type: 'm.room.topic', state_key: '', content: { topic: 'b' }, sender: BOB }, ['CREATE', 'MB', 'PL'], 9],
    ]);
  const base = (topic: string, store: MemoryStore): Map<string, string> => {
    const m = new Map<string, string>();
    for (const n of ['CREATE', 'MA', 'MB', 'PL', topic]) {
      const e = store.events.get(idOf(n)) as IdentifiedPdu | undefined;
      m.set(e ? stateKeyOf(e.type, e.state_key!) : stateKeyOf('m.room.topic', ''), idOf(n));
    }
    return m;
  };
  it('the later topic of an authorised sender wins', async () => {
    const store = room();
    const r = await resolveState(v2, [base('TA', store), base('TB', store)], store);
    assert.equal(r.get(stateKeyOf('m.room.topic', '')), idOf('TB'));
  });
  it('a rejected auth event is not used: Bob’s topic fails without his power levels', async () => {
    const store = room();
    const pl2 = makeEvent({ id: 'PL2', type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100, [BOB]: 50 } }, sender: ALICE }, v2, ['CREATE', 'MA'], [], 3, 3);
    store.events.set(pl2.event_id, pl2);
    const tb = store.events.get(idOf('TB'))!;
    store.events.set(tb.event_id, { ...tb, auth_events: [idOf('CREATE'), idOf('MB'), idOf('PL2')] });
    const sets = [base('TA', store), base('TB', store)].map((m) => (m.delete(stateKeyOf('m.room.power_levels', '')), m));
    assert.equal((await resolveState(v2, sets, store)).get(stateKeyOf('m.room.topic', '')), idOf('TB'));
    store.rejected.add(idOf('PL2'));
    assert.equal((await resolveState(v2, sets, store)).get(stateKeyOf('m.room.topic', '')), idOf('TA'));
  });
  it('unknown events take no part; events of another room are ignored when the room is given', async () => {
    const store = room();
    const r = await resolveState(v2, [base('TA', store), base('NOPE', store)], store);
    assert.equal(r.get(stateKeyOf('m.room.topic', '')), idOf('TA'));
    const r2 = await resolveState(v2, [base('TA', store), base('TB', store)], store, { roomId: '!elsewhere:example.com' });
    assert.equal(r2.get(stateKeyOf('m.room.topic', '')), undefined);
  });
  it('one state set resolves to itself; none is an error', async () => {
    const store = room();
    assert.deepEqual(await resolveState(v2, [base('TA', store)], store), base('TA', store));
    await assert.rejects(resolveState(v2, [], store), StateResError);
  });
});
