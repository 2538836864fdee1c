/**
 * Backfilling (server-server-api "Backfilling and retrieving missing events"): when a client's
 * /messages reaches the oldest event this server has (e.g. after joining a room late), ask a
 * server in the room for the history before it with GET /backfill, check each event like any
 * received PDU (format, signatures, hashes, auth events, state before), and store it below the
 * room's oldest events (negative stream positions) so pagination continues into it.
 */
import type { Logger } from '../../logging.ts';
import { checkAuth } from '../../protocol/auth/index.ts';
import type { AuthOptions } from '../../protocol/auth/index.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { FederationEventsStore } from '../../storage/federation-events-store.ts';
import type { StateSnapshot } from '../state/state-cache.ts';
import type { FederationClient } from './client.ts';
import type { Ingest } from './ingest.ts';
import { authMapFromState, prevIds, type RemoteEvents } from './remote-events.ts';
import { resolveMaps, stageState, stageStateAfter } from './state-builder.ts';
import type { RoomServers } from './room-servers.ts';

export interface BackfillDeps {
  core: RoomCore;
  client: FederationClient;
  ingest: Ingest;
  remote: RemoteEvents;
  store: FederationEventsStore;
  rooms: RoomServers;
  log: Logger;
  serverName: () => string;
  authOptions: (v: RoomVersion) => AuthOptions;
}

const MAX_LIMIT = 100;

export class Backfiller {
  /** Rooms being backfilled now (concurrent /messages share one fetch). */
  private readonly running = new Map<string, Promise<number>>();

  constructor(private readonly d: BackfillDeps) {}

  /** Fetches up to `limit` older events; returns how many were stored. */
  backfill(roomId: string, limit: number): Promise<number> {
    let p = this.running.get(roomId);
    if (!p) {
      p = this.d.ingest.lock
        .run(roomId, () => this.run(roomId, Math.min(Math.max(limit, 10), MAX_LIMIT)))
        .catch((e: unknown) => {
          this.d.log.info({ roomId, err: (e as Error).message }, 'backfill failed');
          return 0;
        })
        .finally(() => this.running.delete(roomId));
      this.running.set(roomId, p);
    }
    return p;
  }

  private async run(roomId: string, limit: number): Promise<number> {
    const version = await this.d.core.maybeVersionOf(roomId);
    if (!version) return 0;
    const from = await this.d.store.backwardExtremities(roomId, 20);
    if (from.length === 0) return 0;
    const state = await this.d.core.currentState(roomId);
    if (!state) return 0;
    const me = this.d.serverName();
    const servers = [];
    for (const s of this.d.rooms.serversIn(state)) if (s !== me && (await this.d.rooms.allowed(roomId, s, state))) servers.push(s);
    for (const server of servers) {
      let pdus: unknown[];
      try {
        const r = await this.d.client.request<{ pdus?: unknown[] }>(server, 'GET', `/_matrix/federation/v1/backfill/${encodeURIComponent(roomId)}`, {
          query: { v: from, limit },
          maxBytes: 16 * 1024 * 1024,
        });
        pdus = Array.isArray(r.pdus) ? r.pdus.slice(0, limit * 2) : [];
      } catch (e) {
        this.d.log.info({ server, roomId, err: (e as Error).message }, '/backfill failed');
        continue;
      }
      const stored = await this.store(server, roomId, version, pdus);
      if (stored > 0) return stored;
    }
    return 0;
  }

  private async store(origin: string, roomId: string, version: RoomVersion, raws: unknown[]): Promise<number> {
    const checked = (await this.d.ingest.checkAll(raws, version, 'backfill')).filter((c) => this.d.ingest.inRoom(c, roomId, version));
    const known = await this.d.store.known(checked.map((c) => c.eventId));
    const fresh = checked.filter((c) => {
      const k = known.get(c.eventId);
      return !k || (k.outlier && !k.hasState);
    });
    if (fresh.length === 0) return 0;
    fresh.sort((a, b) => a.pdu.depth - b.pdu.depth || (a.eventId < b.eventId ? -1 : 1));
    const inBatch = new Set(fresh.map((c) => c.eventId));
    // Everything that needs the network first: auth events, and the state at prev events that
    // are neither stored with state nor in this batch.
    const missingState = new Map<string, Map<string, string>>();
    for (const c of fresh) {
      await this.d.ingest.ensureAuthEvents(origin, roomId, version, c);
      const prevs = prevIds(c.pdu).filter((p) => !inBatch.has(p));
      const k = await this.d.store.known(prevs);
      for (const p of prevs) {
        const info = k.get(p);
        if ((info && info.hasState) || missingState.has(p)) continue;
        const m = await this.d.ingest.stateAtMissing(origin, roomId, version, p);
        if (m) missingState.set(p, m);
      }
    }
    const step4 = new Map<string, string | null | 'missing'>();
    for (const c of fresh) step4.set(c.eventId, await this.d.ingest.checkAgainstAuthEvents(c, roomId, version));

    let stored = 0;
    await this.d.core.writer.write(async (b) => {
      // Newest gets the highest of the new (negative) positions, so /messages pages back in order.
      const streams = new Map<string, number>();
      for (const c of [...fresh].reverse()) streams.set(c.eventId, this.d.remote.allocateLow());
      const after = new Map<string, StateSnapshot>();
      for (const c of fresh) {
        const r4 = step4.get(c.eventId);
        if (r4 === 'missing') continue;
        const maps: Array<ReadonlyMap<string, string>> = [];
        let base: StateSnapshot | undefined;
        let ok = true;
        for (const p of prevIds(c.pdu)) {
          const inMem = after.get(p);
          if (inMem) {
            maps.push(inMem.map);
            base ??= inMem;
            continue;
          }
          const ev = await this.d.core.eventCache.get(p, b.tx);
          if (ev?.stateAfter) {
            const snap = await this.d.core.stateCache.get(ev.stateAfter, b.tx);
            maps.push(snap.map);
            base ??= snap;
            continue;
          }
          const m = missingState.get(p);
          if (m) maps.push(m);
          else ok = false;
        }
        // The create event has no prev events: the state before it is empty.
        if (prevIds(c.pdu).length === 0) maps.push(new Map());
        if (!ok || maps.length === 0) continue;
        const map = maps.length === 1 ? maps[0]! : await resolveMaps(this.d.core, version, roomId, maps, b.tx);
        const before = await stageState(this.d.core, b, roomId, base, map);
        let rejected: string | null = r4 ?? null;
        if (!rejected) {
          const res = checkAuth({ ...c.pdu, event_id: c.eventId }, await authMapFromState(this.d.core, c.pdu, version, before, b.tx), version, this.d.authOptions(version));
          if (!res.ok) rejected = res.reason;
        }
        const membership = c.pdu.type === 'm.room.member' && typeof c.pdu.content.membership === 'string' ? c.pdu.content.membership : null;
        const stateAfter = rejected
          ? before
          : await stageStateAfter(this.d.core, b, roomId, before, { eventId: c.eventId, type: c.pdu.type, stateKey: c.pdu.state_key, membership });
        after.set(c.eventId, stateAfter);
        await this.d.remote.persistBackfilled(b, { eventId: c.eventId, pdu: c.pdu, roomId, version, before: { base: before }, rejected }, streams.get(c.eventId)!, stateAfter);
        stored++;
      }
    });
    this.d.log.info({ roomId, origin, stored }, 'backfilled');
    return stored;
  }
}
