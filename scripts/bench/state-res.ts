/**
 * State resolution at scale: a public room with 10,000 members forks in two; each fork adds 500
 * state events (display-name changes, kicks and bans by moderators, power-level and join-rule
 * changes by the admin, topics), so 1,000 new conflicting events compete (plus the joins they
 * replace). Resolves the two fork states in room versions 10 (state res v2) and 12 (v2.1) and
 * prints the time and the peak RSS (process.memoryUsage().rss, sampled at every store call and
 * every 5 ms, and the kernel's maxRSS).
 *
 *   node --import tsx scripts/bench/state-res.ts [members] [eventsPerFork]
 */
import { authEventsNeeded } from '../../server/protocol/auth/auth-events.ts';
import { stateKeyOf, type IdentifiedPdu } from '../../server/protocol/auth/types.ts';
import type { JsonObject } from '../../server/protocol/pdu-types.ts';
import { getRoomVersion, type RoomVersion } from '../../server/protocol/room-versions.ts';
import { resolveState } from '../../server/protocol/state-res/index.ts';
import type { StateResStore } from '../../server/protocol/state-res/types.ts';

const MEMBERS = Number(process.argv[2] ?? 10_000);
const PER_FORK = Number(process.argv[3] ?? 500);
const ADMIN = '@admin:bench.test';
const user = (i: number): string => `@user${i}:server${i % 50}.test`;

let peakRss = 0;
const sample = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

/** A tiny deterministic PRNG so every run builds the same room. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) & 0x7fffffff;
    return a / 0x80000000;
  };
}

function buildRoom(version: RoomVersion): { events: Map<string, IdentifiedPdu>; forks: Map<string, string>[] } {
  const events = new Map<string, IdentifiedPdu>();
  const rand = prng(42);
  let n = 0;
  let ts = 1_700_000_000_000;
  const createId = '$create:bench.test';
  const roomId = version.roomIdFromCreateEvent ? `!${createId.slice(1)}` : '!room:bench.test';

  const add = (state: Map<string, string>, prev: string[], depth: number, sender: string, type: string, stateKey: string | undefined, content: JsonObject): string => {
    const id = n === 0 ? createId : `$e${n}:bench.test`;
    n++;
    const draft: IdentifiedPdu = {
      event_id: id,
      ...(version.roomIdFromCreateEvent && type === 'm.room.create' ? {} : { room_id: roomId }),
      sender,
      type,
      ...(stateKey !== undefined && { state_key: stateKey }),
      content,
      origin_server_ts: ts++,
      depth,
      prev_events: prev,
      auth_events: [],
      hashes: { sha256: '' },
      signatures: {},
    };
    draft.auth_events = authEventsNeeded(draft, version).flatMap(([t, s]) => state.get(stateKeyOf(t, s)) ?? []);
    events.set(id, draft);
    if (stateKey !== undefined) state.set(stateKeyOf(type, stateKey), id);
    return id;
  };

  const base = new Map<string, string>();
  let prev: string[] = [];
  let depth = 0;
  const step = (state: Map<string, string>, sender: string, type: string, stateKey: string | undefined, content: JsonObject): void => {
    prev = [add(state, prev, ++depth, sender, type, stateKey, content)];
  };
  step(base, ADMIN, 'm.room.create', '', version.implicitCreator ? { room_version: version.id } : { creator: ADMIN, room_version: version.id });
  step(base, ADMIN, 'm.room.member', ADMIN, { membership: 'join' });
  const mods: JsonObject = {};
  for (let i = 0; i < 20; i++) mods[user(i)] = 50;
  const levels = (extra: JsonObject = {}): JsonObject => ({
    users: { ...(version.privilegedCreators ? {} : { [ADMIN]: 100 }), ...mods, ...extra },
    state_default: 50,
    events_default: 0,
    kick: 50,
    ban: 50,
  });
  step(base, ADMIN, 'm.room.power_levels', '', levels());
  step(base, ADMIN, 'm.room.join_rules', '', { join_rule: 'public' });
  for (let i = 0; i < MEMBERS; i++) step(base, user(i), 'm.room.member', user(i), { membership: 'join', displayname: `User ${i}` });

  const forkPoint = prev;
  const forkDepth = depth;
  const forks: Map<string, string>[] = [];
  for (let f = 0; f < 2; f++) {
    const state = new Map(base);
    prev = forkPoint;
    depth = forkDepth;
    for (let k = 0; k < PER_FORK; k++) {
      const r = rand();
      // Members 20…: fork 0 touches even ones, fork 1 odd ones, so every new event conflicts.
      const target = user(20 + 2 * Math.floor(rand() * ((MEMBERS - 20) / 2)) + f);
      if (r < 0.6) step(state, target, 'm.room.member', target, { membership: 'join', displayname: `fork ${f} #${k}` });
      else if (r < 0.8) step(state, user(Math.floor(rand() * 20)), 'm.room.member', target, { membership: rand() < 0.5 ? 'leave' : 'ban' });
      else if (r < 0.85) step(state, ADMIN, 'm.room.power_levels', '', levels({ [target]: Math.floor(rand() * 3) * 10 }));
      else if (r < 0.88) step(state, ADMIN, 'm.room.join_rules', '', { join_rule: rand() < 0.5 ? 'public' : 'invite' });
      else step(state, user(Math.floor(rand() * 20)), 'm.room.topic', '', { topic: `fork ${f} topic ${k}` });
    }
    forks.push(state);
  }
  return { events, forks };
}

async function run(versionId: string): Promise<void> {
  const version = getRoomVersion(versionId)!;
  const t0 = performance.now();
  const { events, forks } = buildRoom(version);
  const buildMs = performance.now() - t0;
  // An asynchronous store, as a database-backed one would be; each call also samples memory.
  let calls = 0;
  let fetched = 0;
  const store: StateResStore = {
    getEvents(ids) {
      calls++;
      fetched += ids.length;
      sample();
      return new Promise((resolve) => setImmediate(() => resolve(ids.flatMap((id) => events.get(id) ?? []))));
    },
  };
  const conflictedKeys = [...new Set([...forks[0]!.keys(), ...forks[1]!.keys()])].filter((k) => forks[0]!.get(k) !== forks[1]!.get(k));
  const conflicted = conflictedKeys.length;
  const conflictedEvents = new Set(conflictedKeys.flatMap((k) => [forks[0]!.get(k), forks[1]!.get(k)].filter((x) => x !== undefined))).size;
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  peakRss = rssBefore;
  const timer = setInterval(sample, 5);
  const t1 = performance.now();
  const resolved = await resolveState(version, forks, store);
  const ms = performance.now() - t1;
  clearInterval(timer);
  sample();
  const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
  console.log(
    `room v${version.id} (state res ${version.stateRes}): ${MEMBERS} members, ${2 * PER_FORK} new events on 2 forks, ` +
      `${conflicted} conflicted keys holding ${conflictedEvents} events, ${events.size} events in all (built in ${buildMs.toFixed(0)} ms)`,
  );
  console.log(
    `  resolved ${resolved.size} state entries in ${ms.toFixed(0)} ms; store: ${calls} calls, ${fetched} events; ` +
      `RSS before ${mb(rssBefore)} MB, peak ${mb(peakRss)} MB (+${mb(peakRss - rssBefore)} MB)`,
  );
}

for (const v of ['10', '12']) await run(v);
console.log(`process maxRSS (kernel): ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`);
