/**
 * State resolution scenarios (test/fixtures/state-res/*.json), each run in every room version it
 * names: Synapse-style event graphs (state at END vs. START) and explicit state sets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitStateKey } from '../../../server/protocol/auth/types.ts';
import { getRoomVersion, ROOM_VERSIONS, type RoomVersion } from '../../../server/protocol/room-versions.ts';
import { resolveState } from '../../../server/protocol/state-res/index.ts';
import { buildExplicit, buildGraph, idOf, loadFixtures, nameOf, type Fixture } from './graph.ts';

/** `expected`, or an `expectedByVersion` entry whose key is the version ("12") or a range ("2..11"). */
export function expectedFor(f: Fixture, v: RoomVersion): string[] {
  for (const [key, names] of Object.entries(f.expectedByVersion ?? {})) {
    const [lo, hi] = key.split('..').map(Number);
    const n = Number(v.id);
    if (hi === undefined ? n === lo : n >= lo! && n <= hi) return names;
  }
  return f.expected;
}

/** A state map shown as sorted event names, for readable diffs. */
export function names(state: ReadonlyMap<string, string>): string[] {
  return [...state.values()].map(nameOf).sort();
}

export async function runFixture(f: Fixture, v: RoomVersion): Promise<{ actual: string[]; expected: string[] }> {
  const expected = expectedFor(f, v).slice().sort();
  if (f.stateSets) {
    const { store, stateSets } = buildExplicit(f, v);
    return { actual: names(await resolveState(v, stateSets, store)), expected };
  }
  const { store, stateAfter } = await buildGraph(f, v);
  const start = stateAfter.get('START')!;
  const end = stateAfter.get('END')!;
  const wantedKeys = new Set(expected.map((n) => store.events.get(idOf(n))!).map((e) => `${e.type}\u0000${e.state_key}`));
  const changed = new Map([...end].filter(([k, id]) => wantedKeys.has(k) || start.get(k) !== id));
  // Keys that were in START but are gone at END count as changes too.
  for (const k of start.keys()) if (!end.has(k)) changed.set(k, `$MISSING(${splitStateKey(k).join('/')}):x`);
  return { actual: names(changed), expected };
}

for (const f of loadFixtures()) {
  describe(f.name, () => {
    const versions = (f.versions ?? [...ROOM_VERSIONS.keys()]).map((id) => getRoomVersion(id)!);
    for (const v of versions) {
      it(`room version ${v.id}: ${expectedFor(f, v).join(', ')}`, async () => {
        const { actual, expected } = await runFixture(f, v);
        assert.deepEqual(actual, expected, f.description);
      });
    }
  });
}
