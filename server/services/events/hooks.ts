/**
 * What persisting an event implies beyond the event itself, staged into the same write job.
 * Relations and the full-text index are written by triggers on `events` (migration 0003); here:
 * - the cached target of a relation learns it has relations (after commit);
 * - redactions: the target is marked redacted, leaves the search index and stops relating
 *   ("Redactions": "the server must strip … and should not serve the original content").
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { getNamedLevel, getPowerLevel } from '../../protocol/auth/index.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { SearchStore } from '../../storage/search-store.ts';
import type { WriteTx } from '../../storage/db.ts';
import type { AppendedEvent, WriteBatch } from './write-batch.ts';
import type { StoredEvent } from './event-cache.ts';

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** content["m.relates_to"] as {rel_type, event_id, key?} when it is a typed relation. */
export function relationOf(content: JsonObject): { relType: string; eventId: string; key: string | null } | undefined {
  const rel = content['m.relates_to'];
  if (!isObject(rel) || typeof rel.rel_type !== 'string' || typeof rel.event_id !== 'string') return undefined;
  return { relType: rel.rel_type, eventId: rel.event_id, key: typeof rel.key === 'string' ? rel.key : null };
}

/** The redaction's target: top-level `redacts` before v11, content.redacts from v11. */
export function redactsOf(ev: StoredEvent): string | undefined {
  if (typeof ev.pdu.redacts === 'string') return ev.pdu.redacts;
  const c = ev.pdu.content.redacts;
  return typeof c === 'string' ? c : undefined;
}

/**
 * May `redaction` redact `target`? ("Redactions": the sender has the redact power level, or — v3+
 * — is on the same server as the target's sender; for local clients Hearth requires the same user.)
 */
export async function mayRedact(core: RoomCore, a: AppendedEvent, target: StoredEvent, tx?: WriteTx): Promise<boolean> {
  const ev = a.event;
  if (target.roomId !== ev.roomId) return false;
  if (target.sender === ev.sender) return true;
  const plId = a.before.get('m.room.power_levels');
  const createId = a.before.get('m.room.create');
  const pl = plId ? await core.eventCache.get(plId, tx) : undefined;
  const create = createId ? await core.eventCache.get(createId, tx) : undefined;
  const power = getPowerLevel(ev.sender, pl?.pdu, create?.pdu, a.version);
  if (power >= getNamedLevel('redact', pl?.pdu, a.version)) return true;
  // v3+: "the domain of the redaction event's sender matches that of the original event's sender".
  return !core.isLocalUser(ev.sender) && ev.sender.split(':').slice(1).join(':') === target.sender.split(':').slice(1).join(':');
}

export function installEventHooks(core: RoomCore, search: SearchStore): void {
  core.writer.addHook(async (b: WriteBatch, a: AppendedEvent) => {
    const ev = a.event;
    const content = ev.pdu.content;

    // The relation row itself is written by the events_relations trigger (migration 0003).
    const rel = relationOf(content);
    if (rel && rel.eventId !== ev.eventId) {
      b.afterCommit(() => {
        const target = core.eventCache.peek(rel.eventId);
        if (target) target.hasRelations = true;
      });
    }

    if (ev.type === 'm.room.redaction') {
      const targetId = redactsOf(ev);
      const target = targetId ? await core.eventCache.get(targetId, b.tx) : undefined;
      if (target && !target.redactedBy && (await mayRedact(core, a, target, b.tx))) {
        b.onFlush(async (tx) => {
          await core.events.markRedacted(tx, target.eventId, ev.eventId);
          await core.relations.delete(tx, target.eventId);
          await search.delete(tx, target.streamOrdering);
        });
        b.afterCommit(() => {
          target.redactedBy = ev.eventId;
        });
      }
    }
  });
}
