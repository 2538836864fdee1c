/**
 * Taking events from other servers into a room, in the order of server-server-api "Checks
 * performed on receipt of a PDU": format, signatures, hashes (pdu-checks.ts); auth against the
 * event's auth events (fetched with /event_auth when missing); auth against the state before the
 * event (from the stored prev events, /get_missing_events to fill small gaps, /state_ids for the
 * state at prev events still missing, state resolution when several prev events); then soft
 * failure against the current state (remote-events.ts). Failures are logged and reported per
 * event; they never stop the room for local users.
 */
import type { Logger } from '../../logging.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import { checkAuth, checkAuthEventsList, stateKeyOf, type AuthOptions, type IdentifiedPdu } from '../../protocol/auth/index.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { FederationEventsStore } from '../../storage/federation-events-store.ts';
import type { StateSnapshot } from '../state/state-cache.ts';
import type { FederationClient } from './client.ts';
import type { KeyRing } from './keys.ts';
import { checkReceivedPdu, signingKeysNeeded, PduCheckError, type CheckedPdu } from './pdu-checks.ts';
import { authIds, authMapFromState, prevIds, type RemoteEvents, type TimelineInput } from './remote-events.ts';
import { identified, resolveMaps } from './state-builder.ts';
import type { RoomServers } from './room-servers.ts';
import { KeyedLock } from './keyed-lock.ts';

export interface IngestDeps {
  core: RoomCore;
  client: FederationClient;
  keys: KeyRing;
  remote: RemoteEvents;
  store: FederationEventsStore;
  rooms: RoomServers;
  log: Logger;
  authOptions: (version: RoomVersion) => AuthOptions;
}

/** Events fetched per /get_missing_events request. */
const MISSING_LIMIT = 10;
/** Individual /event fetches before /state is used instead. */
const MAX_SINGLE_FETCHES = 50;

export interface IngestResult {
  eventId?: string;
  error?: string;
  rejected?: string | null;
  softFailed?: boolean;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export class Ingest {
  readonly lock = new KeyedLock();

  constructor(private readonly d: IngestDeps) {}

  /** A PDU from /send. */
  async receive(origin: string, raw: unknown): Promise<IngestResult> {
    if (!isObject(raw)) return { error: 'PDU is not an object' };
    const roomId = raw.room_id;
    if (typeof roomId !== 'string') return { error: 'PDU has no room_id' };
    const version = await this.d.core.maybeVersionOf(roomId);
    if (!version) return { error: `Unknown room ${roomId}` };
    let checked: CheckedPdu;
    try {
      checked = await checkReceivedPdu(raw, version, this.d.keys);
    } catch (e) {
      this.d.log.info({ origin, roomId, err: (e as Error).message }, 'dropped PDU');
      return { eventId: (e as PduCheckError).eventId, error: (e as Error).message };
    }
    // "ACLs MUST be applied to all PDUs on a per-PDU basis."
    if (!(await this.d.rooms.allowed(roomId, origin))) {
      return { eventId: checked.eventId, error: `Server ${origin} is denied by the room's server ACL` };
    }
    const state = await this.d.core.currentState(roomId);
    const me = this.d.core.serverName();
    if (!state || state.localWith(me, 'join').length === 0) {
      // Not in the room (only an invite or a knock here): only changes to our users' own
      // out-of-band membership are taken (e.g. an invite withdrawn); the rest is not ours to judge.
      const target = checked.pdu.state_key;
      if (checked.pdu.type === 'm.room.member' && target && this.d.core.isLocalUser(target) && state?.membership(target) !== undefined) {
        if ((await this.d.store.known([checked.eventId])).has(checked.eventId)) return { eventId: checked.eventId };
        const creator = checked.pdu.sender;
        await this.d.core.writer.write((b) => this.d.remote.persistOutOfBand(b, roomId, version, checked, null, creator));
        return { eventId: checked.eventId };
      }
      return { eventId: checked.eventId, error: 'This server is not in the room' };
    }
    try {
      return await this.lock.run(roomId, () => this.processTimeline(origin, roomId, version, checked, { fetchMissing: true }));
    } catch (e) {
      this.d.log.warn({ origin, roomId, eventId: checked.eventId, err: e }, 'could not process PDU');
      return { eventId: checked.eventId, error: `Could not process the event: ${(e as Error).message}` };
    }
  }

  /**
   * Steps 1–3 on many PDUs (a join's state and auth chain: thousands); failing ones are logged
   * and left out. The signing keys of every server involved are fetched first, in parallel;
   * then events are checked in concurrent slices so signature checks overlap on the thread pool.
   */
  async checkAll(raws: unknown[], version: RoomVersion, what: string): Promise<CheckedPdu[]> {
    const needed = signingKeysNeeded(raws, version);
    const servers = [...needed.keys()];
    for (let i = 0; i < servers.length; i += 8) {
      await Promise.all(
        servers.slice(i, i + 8).map(async (server) => {
          for (const keyId of needed.get(server)!) await this.d.keys.verifyKey(server, keyId);
        }),
      );
    }
    const out: Array<CheckedPdu | undefined> = new Array(raws.length);
    const SLICE = 64;
    for (let i = 0; i < raws.length; i += SLICE) {
      await Promise.all(
        raws.slice(i, i + SLICE).map(async (raw, j) => {
          try {
            out[i + j] = await checkReceivedPdu(raw, version, this.d.keys);
          } catch (e) {
            this.d.log.info({ err: (e as Error).message, what }, 'dropped PDU');
          }
        }),
      );
    }
    return out.filter((c): c is CheckedPdu => c !== undefined);
  }

  /** Does the event belong to the room? (A v12 create event has no room_id: its ID is the room's.) */
  inRoom(c: CheckedPdu, roomId: string, version: RoomVersion): boolean {
    if (c.pdu.room_id === roomId) return true;
    return version.roomIdFromCreateEvent && c.pdu.type === 'm.room.create' && c.pdu.room_id === undefined && `!${c.eventId.slice(1)}` === roomId;
  }

  /** The v12 create event is found from the room ID; earlier versions list it among auth events. */
  private createIdOf(roomId: string, version: RoomVersion): string | undefined {
    return version.roomIdFromCreateEvent ? `$${roomId.slice(1)}` : undefined;
  }

  /**
   * Step 4: the rules checked against the event's own auth events. Returns the rejection
   * reason, null when allowed, or 'missing' when some auth event is unknown.
   */
  async checkAgainstAuthEvents(c: { eventId: string; pdu: CheckedPdu['pdu'] }, roomId: string, version: RoomVersion, extra?: ReadonlyMap<string, IdentifiedPdu & { rejected?: string | null }>): Promise<string | null | 'missing'> {
    const ids = authIds(c.pdu);
    const createId = this.createIdOf(roomId, version);
    const wanted = createId && c.pdu.type !== 'm.room.create' ? [...ids, createId] : ids;
    const stored = await this.d.core.eventCache.getMany(wanted.filter((id) => !extra?.has(id)));
    const get = (id: string): (IdentifiedPdu & { rejected?: string | null }) | undefined => {
      const x = extra?.get(id);
      if (x) return x;
      const ev = stored.get(id);
      return ev ? { ...identified(ev), rejected: ev.rejected } : undefined;
    };
    const list: IdentifiedPdu[] = [];
    for (const id of ids) {
      const ev = get(id);
      if (!ev) return 'missing';
      list.push(ev);
    }
    const opts = { ...this.d.authOptions(version), isRejected: (id: string) => !!get(id)?.rejected };
    const listCheck = checkAuthEventsList(c.pdu, list, version, opts);
    if (!listCheck.ok) return listCheck.reason;
    const map = new Map<string, IdentifiedPdu>();
    for (const ev of list) map.set(stateKeyOf(ev.type, ev.state_key ?? ''), ev);
    if (createId && c.pdu.type !== 'm.room.create') {
      const create = get(createId);
      if (!create || create.rejected) return 'missing';
      map.set(stateKeyOf('m.room.create', ''), create);
    }
    const res = checkAuth({ ...c.pdu, event_id: c.eventId }, map, version, opts);
    return res.ok ? null : res.reason;
  }

  /**
   * Stores events as outliers after checking each against its auth events (in depth order, so
   * auth events come first). Auth events missing from the set and the database are fetched
   * from `origin` one by one (bounded); events still missing some are stored as rejected.
   */
  async storeOutliers(origin: string, roomId: string, version: RoomVersion, events: CheckedPdu[]): Promise<Map<string, string | null>> {
    const verdicts = new Map<string, string | null>();
    const byId = new Map(events.map((e) => [e.eventId, e]));
    const known = await this.d.store.known([...byId.keys()]);
    for (const [id, k] of known) {
      byId.delete(id);
      verdicts.set(id, k.rejected ? 'rejected' : null);
    }
    if (byId.size === 0) return verdicts;
    // Fetch auth events referenced but neither given nor stored.
    let fetches = 0;
    for (;;) {
      const referenced = new Set<string>();
      for (const e of byId.values()) for (const a of authIds(e.pdu)) if (!byId.has(a)) referenced.add(a);
      const createId = this.createIdOf(roomId, version);
      if (createId && !byId.has(createId)) referenced.add(createId);
      const stored = await this.d.store.known([...referenced]);
      const missing = [...referenced].filter((id) => !stored.has(id));
      if (missing.length === 0 || fetches >= MAX_SINGLE_FETCHES) break;
      const got = await this.fetchEvents(origin, roomId, version, missing.slice(0, MAX_SINGLE_FETCHES - fetches));
      fetches += Math.min(missing.length, MAX_SINGLE_FETCHES - fetches);
      if (got.length === 0) break;
      for (const g of got) byId.set(g.eventId, g);
    }
    const sorted = [...byId.values()].sort((a, b) => a.pdu.depth - b.pdu.depth || (a.eventId < b.eventId ? -1 : 1));
    const extra = new Map<string, IdentifiedPdu & { rejected?: string | null }>();
    const out: Array<{ eventId: string; pdu: CheckedPdu['pdu']; rejected: string | null }> = [];
    for (const e of sorted) {
      let rejected = await this.checkAgainstAuthEvents(e, roomId, version, extra);
      if (rejected === 'missing') rejected = 'auth events unavailable';
      if (rejected) this.d.log.info({ roomId, eventId: e.eventId, reason: rejected }, 'outlier rejected');
      extra.set(e.eventId, { ...e.pdu, event_id: e.eventId, rejected });
      out.push({ eventId: e.eventId, pdu: e.pdu, rejected });
      verdicts.set(e.eventId, rejected);
    }
    await this.d.core.writer.write((b) => this.d.remote.persistOutliers(b, roomId, out));
    return verdicts;
  }

  /** GET /event/{id} for each ID (checked; failures left out). */
  async fetchEvents(origin: string, roomId: string, version: RoomVersion, ids: string[]): Promise<CheckedPdu[]> {
    const out: CheckedPdu[] = [];
    await Promise.all(
      ids.map(async (id) => {
        try {
          const r = await this.d.client.request<{ pdus?: unknown[] }>(origin, 'GET', `/_matrix/federation/v1/event/${encodeURIComponent(id)}`);
          const checked = await this.checkAll(Array.isArray(r.pdus) ? r.pdus : [], version, 'event');
          for (const c of checked) if (c.eventId === id && this.inRoom(c, roomId, version)) out.push(c);
        } catch (e) {
          this.d.log.debug({ origin, id, err: (e as Error).message }, 'could not fetch event');
        }
      }),
    );
    return out;
  }

  /** Makes sure the auth events of `c` are stored: /event_auth from the origin when some are missing. */
  async ensureAuthEvents(origin: string, roomId: string, version: RoomVersion, c: CheckedPdu): Promise<void> {
    const ids = authIds(c.pdu);
    const known = await this.d.store.known(ids);
    if (ids.every((id) => known.has(id))) return;
    let chain: CheckedPdu[] = [];
    try {
      const r = await this.d.client.request<{ auth_chain?: unknown[] }>(
        origin,
        'GET',
        `/_matrix/federation/v1/event_auth/${encodeURIComponent(roomId)}/${encodeURIComponent(c.eventId)}`,
        { maxBytes: 32 * 1024 * 1024, timeoutMs: 60_000 },
      );
      chain = await this.checkAll(Array.isArray(r.auth_chain) ? r.auth_chain : [], version, 'event_auth');
    } catch (e) {
      this.d.log.info({ origin, eventId: c.eventId, err: (e as Error).message }, '/event_auth failed');
    }
    await this.storeOutliers(origin, roomId, version, chain.filter((e) => this.inRoom(e, roomId, version)));
  }

  /** prev_events without a place in our timeline (unknown, or outliers without state). */
  private async missingPrevs(ids: string[]): Promise<string[]> {
    const known = await this.d.store.known(ids);
    return ids.filter((id) => {
      const k = known.get(id);
      return !k || (k.outlier && !k.hasState);
    });
  }

  /**
   * Steps 4–6 and persistence for an event that should take its place in the room's timeline.
   * `fetchMissing`: fill gaps before it with /get_missing_events (not done for the events that
   * call returned, to bound the work).
   */
  async processTimeline(origin: string, roomId: string, version: RoomVersion, c: CheckedPdu, opts: { fetchMissing?: boolean; stage?: TimelineInput['stage'] } = {}): Promise<IngestResult> {
    const fetchMissing = opts.fetchMissing ?? false;
    const k = (await this.d.store.known([c.eventId])).get(c.eventId);
    if (k && !(k.outlier && !k.hasState)) return { eventId: c.eventId };
    if (c.pdu.room_id !== roomId) return { eventId: c.eventId, error: 'room_id does not match' };

    await this.ensureAuthEvents(origin, roomId, version, c);
    const step4 = await this.checkAgainstAuthEvents(c, roomId, version);
    if (step4 === 'missing') return { eventId: c.eventId, error: 'Some auth events could not be found' };

    const prevs = prevIds(c.pdu);
    let missing = await this.missingPrevs(prevs);
    if (missing.length > 0 && fetchMissing) {
      await this.fetchMissing(origin, roomId, version, c);
      missing = await this.missingPrevs(prevs);
    }
    const snapshots: StateSnapshot[] = [];
    for (const id of prevs) {
      if (missing.includes(id)) continue;
      const ev = await this.d.core.eventCache.get(id);
      if (ev?.stateAfter) snapshots.push(await this.d.core.stateCache.get(ev.stateAfter));
    }
    const maps: Array<ReadonlyMap<string, string>> = snapshots.map((s) => s.map);
    for (const id of missing) {
      const m = await this.stateAtMissing(origin, roomId, version, id);
      if (m) maps.push(m);
    }
    if (maps.length === 0) return { eventId: c.eventId, error: 'The state before the event could not be determined' };
    const distinctGroups = new Set(snapshots.map((s) => s.group));
    const before: TimelineInput['before'] =
      maps.length === snapshots.length && distinctGroups.size === 1
        ? { base: snapshots[0] }
        : { base: snapshots[0], map: await resolveMaps(this.d.core, version, roomId, maps) };

    let rejected: string | null = step4;
    if (!rejected) {
      // Step 5: against the state before the event.
      const auth = await authMapFromState(this.d.core, c.pdu, version, before.map ?? before.base!.map);
      const res = checkAuth({ ...c.pdu, event_id: c.eventId }, auth, version, this.d.authOptions(version));
      if (!res.ok) rejected = res.reason;
    }
    if (rejected) this.d.log.info({ origin, roomId, eventId: c.eventId, reason: rejected }, 'event rejected');
    const result = await this.d.core.writer.write((b) =>
      this.d.remote.persistTimeline(b, { eventId: c.eventId, pdu: c.pdu, roomId, version, before, rejected, stage: opts.stage }),
    );
    if (result.softFailed) this.d.log.info({ origin, roomId, eventId: c.eventId }, 'event soft-failed');
    return { eventId: c.eventId, rejected: result.rejected, softFailed: result.softFailed };
  }

  /** POST /get_missing_events: the events between our forward extremities and `c`, processed oldest first. */
  private async fetchMissing(origin: string, roomId: string, version: RoomVersion, c: CheckedPdu): Promise<void> {
    const earliest = await this.d.core.events.getExtremities(roomId);
    let events: unknown[] = [];
    try {
      const r = await this.d.client.request<{ events?: unknown[] }>(origin, 'POST', `/_matrix/federation/v1/get_missing_events/${encodeURIComponent(roomId)}`, {
        body: { earliest_events: earliest, latest_events: [c.eventId], limit: MISSING_LIMIT, min_depth: 0 },
        maxBytes: 4 * 1024 * 1024,
      });
      events = Array.isArray(r.events) ? r.events : [];
    } catch (e) {
      this.d.log.info({ origin, roomId, err: (e as Error).message }, '/get_missing_events failed');
      return;
    }
    const checked = (await this.checkAll(events, version, 'get_missing_events')).filter((e) => e.pdu.room_id === roomId && e.eventId !== c.eventId);
    checked.sort((a, b) => a.pdu.depth - b.pdu.depth);
    for (const e of checked) {
      const r = await this.processTimeline(origin, roomId, version, e);
      if (r.error) this.d.log.info({ origin, eventId: e.eventId, err: r.error }, 'missing event not processed');
    }
  }

  /**
   * The state before `c`'s missing prev event `prevId` plus that event itself: /state_ids from
   * the origin, the events we lack fetched (/event, or /state when many) and stored as outliers.
   */
  async stateAtMissing(origin: string, roomId: string, version: RoomVersion, prevId: string): Promise<Map<string, string> | undefined> {
    let ids: { pdu_ids?: unknown; auth_chain_ids?: unknown };
    try {
      ids = await this.d.client.request(origin, 'GET', `/_matrix/federation/v1/state_ids/${encodeURIComponent(roomId)}`, {
        query: { event_id: prevId },
        maxBytes: 32 * 1024 * 1024,
        timeoutMs: 60_000,
      });
    } catch (e) {
      this.d.log.info({ origin, roomId, prevId, err: (e as Error).message }, '/state_ids failed');
      return undefined;
    }
    const pduIds = Array.isArray(ids.pdu_ids) ? ids.pdu_ids.filter((x): x is string => typeof x === 'string') : [];
    const chainIds = Array.isArray(ids.auth_chain_ids) ? ids.auth_chain_ids.filter((x): x is string => typeof x === 'string') : [];
    const all = [...new Set([...pduIds, ...chainIds, prevId])];
    const known = await this.d.store.known(all);
    const missing = all.filter((id) => !known.has(id));
    if (missing.length > MAX_SINGLE_FETCHES) {
      try {
        const full = await this.d.client.request<{ pdus?: unknown[]; auth_chain?: unknown[] }>(origin, 'GET', `/_matrix/federation/v1/state/${encodeURIComponent(roomId)}`, {
          query: { event_id: prevId },
          maxBytes: 128 * 1024 * 1024,
          timeoutMs: 120_000,
        });
        const evs = await this.checkAll([...(full.pdus ?? []), ...(full.auth_chain ?? [])], version, 'state');
        await this.storeOutliers(origin, roomId, version, evs);
      } catch (e) {
        this.d.log.info({ origin, roomId, err: (e as Error).message }, '/state failed');
      }
    } else if (missing.length > 0) {
      await this.storeOutliers(origin, roomId, version, await this.fetchEvents(origin, roomId, version, missing));
    }
    if (!known.has(prevId) && !(await this.d.store.known([prevId])).has(prevId)) {
      const p = await this.fetchEvents(origin, roomId, version, [prevId]);
      if (p.length) await this.storeOutliers(origin, roomId, version, p);
    }
    const evs = await this.d.core.eventCache.getMany([...pduIds, prevId]);
    const map = new Map<string, string>();
    for (const id of pduIds) {
      const ev = evs.get(id);
      if (ev && ev.stateKey !== undefined && ev.roomId === roomId) map.set(stateKeyOf(ev.type, ev.stateKey), id);
    }
    const prev = evs.get(prevId);
    if (prev && prev.stateKey !== undefined && !prev.rejected) map.set(stateKeyOf(prev.type, prev.stateKey), prevId);
    return map;
  }
}
