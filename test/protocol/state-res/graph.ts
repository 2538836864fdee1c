/**
 * Tiny event graphs for state resolution tests, in the style of Synapse's tests/state/test_v2.py:
 * events are named ("CREATE", "IMA", "PA"), get the ID `$NAME:example.com`, and a scenario lists
 * chains of prev_event edges. The state before each event is the resolution (with the version
 * under test) of the states after its prev events; its auth_events are chosen from that state by
 * "Auth events selection". Scenarios live as JSON in test/fixtures/state-res/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { authEventsNeeded } from '../../../server/protocol/auth/auth-events.ts';
import { stateKeyOf, type IdentifiedPdu } from '../../../server/protocol/auth/types.ts';
import type { JsonObject } from '../../../server/protocol/pdu-types.ts';
import type { RoomVersion } from '../../../server/protocol/room-versions.ts';
import { resolveState } from '../../../server/protocol/state-res/index.ts';
import type { StateResStore } from '../../../server/protocol/state-res/types.ts';

export const ALICE = '@alice:example.com';
export const FIXTURES = new URL('../../fixtures/state-res/', import.meta.url);

export interface FixtureEvent {
  id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  /** Explicit auth events (explicit-state fixtures only). */
  auth?: string[];
  /** Explicit origin_server_ts (explicit-state fixtures only; default: position in the list). */
  ts?: number;
}

export interface Fixture {
  name: string;
  description: string;
  /** Room versions the scenario runs in (default: all). */
  versions?: string[];
  /** Graph fixtures: extra events on top of the initial room, and prev_event chains. */
  events: FixtureEvent[];
  edges?: string[][];
  /** Explicit-state fixtures: the state sets to resolve, as event names (the events' auth given in `auth`). */
  stateSets?: string[][];
  /** Graph fixtures: state at END that differs from START, plus the keys named. Explicit: the full state. */
  expected: string[];
  /** Overrides of `expected` for some versions (where the algorithms differ). */
  expectedByVersion?: Record<string, string[]>;
  /** The create event's content beyond creator/room_version (e.g. additional_creators). */
  createContent?: JsonObject;
}

export function loadFixtures(): Fixture[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(new URL(f, FIXTURES), 'utf8')) as Fixture);
}

export const idOf = (name: string): string => `$${name}:example.com`;
export const nameOf = (id: string): string => id.slice(1, id.indexOf(':'));

/** Every graph starts with these (Synapse's INITIAL_EVENTS): a public room with alice (admin), bob, charlie, zara. */
export function initialEvents(): FixtureEvent[] {
  const member = (id: string, user: string): FixtureEvent => ({ id, sender: user, type: 'm.room.member', state_key: user, content: { membership: 'join' } });
  return [
    { id: 'CREATE', sender: ALICE, type: 'm.room.create', state_key: '', content: {} },
    member('IMA', ALICE),
    { id: 'IPOWER', sender: ALICE, type: 'm.room.power_levels', state_key: '', content: { users: { [ALICE]: 100 } } },
    { id: 'IJR', sender: ALICE, type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' } },
    member('IMB', '@bob:example.com'),
    member('IMC', '@charlie:example.com'),
    member('IMZ', '@zara:example.com'),
    { id: 'START', sender: '@zara:example.com', type: 'm.room.message', content: {} },
    { id: 'END', sender: '@zara:example.com', type: 'm.room.message', content: {} },
  ];
}
const INITIAL_EDGES = ['START', 'IMZ', 'IMC', 'IMB', 'IJR', 'IPOWER', 'IMA', 'CREATE'];

/** An in-memory store; `async` makes every lookup a Promise, `shuffle` reorders each answer. */
export class MemoryStore implements StateResStore {
  readonly events = new Map<string, IdentifiedPdu>();
  rejected = new Set<string>();
  constructor(
    private readonly async = false,
    private readonly shuffle?: <T>(xs: T[]) => T[],
  ) {}
  getEvents(ids: readonly string[]): IdentifiedPdu[] | Promise<IdentifiedPdu[]> {
    let out = ids.flatMap((id) => this.events.get(id) ?? []);
    if (this.shuffle) out = this.shuffle(out);
    return this.async ? Promise.resolve(out) : out;
  }
  getRejected(ids: readonly string[]): string[] {
    return ids.filter((id) => this.rejected.has(id));
  }
}

/**
 * Build a fixture event for `version`: the create event's content follows the version (creator
 * until v10), the room ID is `!CREATE:example.com` (in v12 that *is* the create event's ID with `!`),
 * and in v12 creators are dropped from power levels' `users` ("cannot be specified").
 */
export function makeEvent(f: FixtureEvent, version: RoomVersion, auth: string[], prev: string[], ts: number, depth: number, createContent: JsonObject = {}): IdentifiedPdu {
  let content = f.content;
  if (f.type === 'm.room.create') {
    content = { ...(version.implicitCreator ? {} : { creator: f.sender }), room_version: version.id, ...createContent, ...content };
  }
  if (f.type === 'm.room.power_levels' && version.privilegedCreators && typeof content.users === 'object' && content.users) {
    const creators = new Set([ALICE, ...((createContent.additional_creators as string[] | undefined) ?? [])]);
    content = { ...content, users: Object.fromEntries(Object.entries(content.users as JsonObject).filter(([u]) => !creators.has(u))) };
  }
  const isV12Create = version.roomIdFromCreateEvent && f.type === 'm.room.create';
  return {
    event_id: idOf(f.id),
    ...(isV12Create ? {} : { room_id: '!CREATE:example.com' }),
    sender: f.sender,
    type: f.type,
    ...(f.state_key !== undefined && { state_key: f.state_key }),
    content,
    origin_server_ts: ts,
    depth,
    prev_events: prev.map(idOf),
    auth_events: auth.map(idOf),
    hashes: { sha256: '' },
    signatures: {},
  };
}

export interface BuiltGraph {
  store: MemoryStore;
  /** State after each node (by name): key → event ID. */
  stateAfter: Map<string, Map<string, string>>;
}

/** Build INITIAL_EVENTS + `events` with the prev edges; resolve each node's state with `version`. */
export async function buildGraph(fixture: Fixture, version: RoomVersion): Promise<BuiltGraph> {
  const all = [...initialEvents(), ...fixture.events];
  const byName = new Map(all.map((e) => [e.id, e]));
  const prevs = new Map<string, Set<string>>(all.map((e) => [e.id, new Set<string>()]));
  const addChain = (chain: string[]): void => {
    for (let i = 0; i + 1 < chain.length; i++) prevs.get(chain[i]!)!.add(chain[i + 1]!);
  };
  addChain(INITIAL_EDGES);
  for (const chain of fixture.edges ?? []) addChain(chain);

  // Kahn's algorithm, ties by name, so timestamps are deterministic (Synapse sorts the same way).
  const order: string[] = [];
  const done = new Set<string>();
  while (order.length < all.length) {
    const ready = [...prevs].filter(([n, ps]) => !done.has(n) && [...ps].every((p) => done.has(p))).map(([n]) => n).sort();
    if (ready.length === 0) throw new Error('cycle in fixture edges');
    order.push(ready[0]!);
    done.add(ready[0]!);
  }

  const store = new MemoryStore();
  const stateAfter = new Map<string, Map<string, string>>();
  const depth = new Map<string, number>();
  let ts = 0;
  for (const name of order) {
    const f = byName.get(name)!;
    const prev = [...prevs.get(name)!].sort();
    let before: Map<string, string>;
    if (prev.length === 0) before = new Map();
    else before = await resolveState(version, prev.map((p) => stateAfter.get(p)!), store);
    const draft = makeEvent(f, version, [], prev, ts, 0, fixture.createContent);
    const auth = authEventsNeeded(draft, version).flatMap(([t, s]) => {
      const id = before.get(stateKeyOf(t, s));
      return id === undefined ? [] : [nameOf(id)];
    });
    const d = Math.max(0, ...prev.map((p) => depth.get(p)!)) + 1;
    depth.set(name, d);
    store.events.set(idOf(name), makeEvent(f, version, auth, prev, ts++, d, fixture.createContent));
    const after = new Map(before);
    if (f.state_key !== undefined) after.set(stateKeyOf(f.type, f.state_key), idOf(name));
    stateAfter.set(name, after);
  }
  return { store, stateAfter };
}

/** Explicit-state fixtures: events with their own auth events (create added before v12), and state sets by name. */
export function buildExplicit(fixture: Fixture, version: RoomVersion): { store: MemoryStore; stateSets: Map<string, string>[] } {
  const store = new MemoryStore();
  fixture.events.forEach((f, i) => {
    let auth = f.auth ?? [];
    if (!version.roomIdFromCreateEvent && f.type !== 'm.room.create' && !auth.includes('CREATE')) auth = ['CREATE', ...auth];
    store.events.set(idOf(f.id), makeEvent(f, version, auth, [], f.ts ?? i + 1, i + 1, fixture.createContent));
  });
  const stateSets = (fixture.stateSets ?? []).map((names) => {
    const m = new Map<string, string>();
    for (const n of names) {
      const ev = store.events.get(idOf(n))!;
      m.set(stateKeyOf(ev.type, ev.state_key!), ev.event_id);
    }
    return m;
  });
  return { store, stateSets };
}
