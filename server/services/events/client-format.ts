/**
 * Stored PDUs → the client-server "ClientEvent" format (client-server-api/_index.md "Room event
 * format"): no hashes, signatures, prev/auth events or depth; `unsigned` with age,
 * transaction_id (only for the device that sent it), prev_content/replaces_state for state
 * events, redacted_because for redacted events (content stripped per room version), and the
 * server-side aggregations of the relations module (m.thread, m.replace, m.reference).
 */
import type { JsonObject, Json } from '../../protocol/pdu-types.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import { redact } from '../../protocol/redaction.ts';
import type { RelationsStore, RelationRow } from '../../storage/relations-store.ts';
import type { EventCache, StoredEvent } from './event-cache.ts';

export interface Viewer {
  userId: string;
  deviceId: string | null;
}

export interface SerializeOptions {
  /** /sync leaves room_id out of events inside a room object. */
  omitRoomId?: boolean;
  /** Add unsigned.m.relations (default true). */
  aggregate?: boolean;
}

export class EventSerializer {
  constructor(
    private readonly cache: EventCache,
    private readonly relations: RelationsStore,
    private readonly versionOf: (roomId: string) => Promise<RoomVersion>,
    private readonly now: () => number,
  ) {}

  async one(ev: StoredEvent, viewer: Viewer, opts: SerializeOptions = {}): Promise<JsonObject> {
    return (await this.many([ev], viewer, opts))[0]!;
  }

  async many(evs: readonly StoredEvent[], viewer: Viewer, opts: SerializeOptions = {}): Promise<JsonObject[]> {
    if (evs.length === 0) return [];
    const now = this.now();
    const versions = new Map<string, RoomVersion>();
    for (const ev of evs) if (!versions.has(ev.roomId)) versions.set(ev.roomId, await this.versionOf(ev.roomId));

    // Redaction events, to fill redacted_because.
    const redactionIds = evs.filter((e) => e.redactedBy).map((e) => e.redactedBy!);
    const redactions = redactionIds.length ? await this.cache.getMany(redactionIds) : new Map<string, StoredEvent>();

    let aggregations = new Map<string, JsonObject>();
    if (opts.aggregate !== false) {
      const targets = evs.filter((e) => e.hasRelations && !e.redactedBy).map((e) => e.eventId);
      if (targets.length) aggregations = await this.aggregate(targets, evs, viewer, opts);
    }

    return evs.map((ev) => {
      const version = versions.get(ev.roomId)!;
      const red = ev.redactedBy ? redactions.get(ev.redactedBy) : undefined;
      const redactedBecause = red ? format(red, versions.get(red.roomId) ?? version, viewer, now, opts, undefined, undefined) : undefined;
      return format(ev, version, viewer, now, opts, redactedBecause, aggregations.get(ev.eventId));
    });
  }

  /** unsigned.m.relations for each target ("Server-side aggregation of m.thread / m.replace / m.reference"). */
  private async aggregate(targets: string[], evs: readonly StoredEvent[], viewer: Viewer, opts: SerializeOptions): Promise<Map<string, JsonObject>> {
    const rows = await this.relations.forTargets(targets);
    const byTarget = new Map<string, RelationRow[]>();
    for (const r of rows) {
      let list = byTarget.get(r.relates_to);
      if (!list) byTarget.set(r.relates_to, (list = []));
      list.push(r);
    }
    const senders = new Map(evs.map((e) => [e.eventId, e.sender]));
    const threadRoots = [...byTarget].filter(([, l]) => l.some((r) => r.rel_type === 'm.thread')).map(([t]) => t);
    const participated = threadRoots.length ? await this.relations.participated(threadRoots, viewer.userId) : new Set<string>();

    const wanted = new Set<string>();
    const plan = new Map<string, { thread?: { count: number; latest: string }; replace?: string[]; refs?: string[] }>();
    for (const [target, list] of byTarget) {
      const p: { thread?: { count: number; latest: string }; replace?: string[]; refs?: string[] } = {};
      const thread = list.filter((r) => r.rel_type === 'm.thread');
      if (thread.length) {
        p.thread = { count: thread.length, latest: thread[thread.length - 1]!.event_id };
        wanted.add(p.thread.latest);
      }
      // Only replacements by the original sender count (relations module, "Validity of replacement events").
      const edits = list.filter((r) => r.rel_type === 'm.replace' && r.sender === senders.get(target));
      if (edits.length) {
        p.replace = edits.map((r) => r.event_id);
        for (const id of p.replace) wanted.add(id);
      }
      const refs = list.filter((r) => r.rel_type === 'm.reference');
      if (refs.length) p.refs = refs.map((r) => r.event_id);
      plan.set(target, p);
    }
    const loaded = wanted.size ? await this.cache.getMany(wanted) : new Map<string, StoredEvent>();
    const out = new Map<string, JsonObject>();
    for (const [target, p] of plan) {
      const rel: JsonObject = {};
      if (p.thread) {
        const latest = loaded.get(p.thread.latest);
        if (latest) {
          const [latestJson] = await this.many([latest], viewer, { ...opts, aggregate: false });
          rel['m.thread'] = {
            latest_event: latestJson!,
            count: p.thread.count,
            current_user_participated: participated.has(target) || senders.get(target) === viewer.userId,
          };
        }
      }
      if (p.replace) {
        // "The most recent replacement event (as determined by origin_server_ts and event_id)".
        const edits = p.replace.map((id) => loaded.get(id)).filter((e): e is StoredEvent => !!e && !e.redactedBy);
        edits.sort((a, b) => a.originServerTs - b.originServerTs || (a.eventId < b.eventId ? -1 : 1));
        const last = edits[edits.length - 1];
        if (last) {
          const [editJson] = await this.many([last], viewer, { ...opts, aggregate: false });
          rel['m.replace'] = editJson!;
        }
      }
      if (p.refs) rel['m.reference'] = { chunk: p.refs.map((event_id) => ({ event_id })) };
      if (Object.keys(rel).length) out.set(target, rel);
    }
    return out;
  }
}

function format(
  ev: StoredEvent,
  version: RoomVersion,
  viewer: Viewer,
  now: number,
  opts: SerializeOptions,
  redactedBecause: JsonObject | undefined,
  relations: JsonObject | undefined,
): JsonObject {
  const pdu = ev.pdu;
  const content = ev.redactedBy ? redact(pdu, version).content : pdu.content;
  const out: JsonObject = {
    type: ev.type,
    sender: ev.sender,
    content,
    event_id: ev.eventId,
    origin_server_ts: ev.originServerTs,
  };
  if (!opts.omitRoomId) out.room_id = ev.roomId;
  if (ev.stateKey !== undefined) out.state_key = ev.stateKey;
  if (ev.type === 'm.room.redaction') {
    // v11 moved `redacts` into content; keep the top-level key too for older clients.
    const target = pdu.redacts ?? (typeof pdu.content.redacts === 'string' ? pdu.content.redacts : undefined);
    if (typeof target === 'string') out.redacts = target;
  }
  const unsigned: JsonObject = { age: Math.max(0, now - ev.originServerTs) };
  if (ev.txnId && ev.deviceId && viewer.deviceId === ev.deviceId && viewer.userId === ev.sender) unsigned.transaction_id = ev.txnId;
  if (ev.unsignedExtra) {
    for (const k of ['prev_content', 'replaces_state', 'prev_sender'] as const) {
      const v: Json | undefined = ev.unsignedExtra[k];
      if (v !== undefined) unsigned[k] = v;
    }
  }
  if (redactedBecause) unsigned.redacted_because = redactedBecause;
  if (relations) unsigned['m.relations'] = relations;
  out.unsigned = unsigned;
  return out;
}
