/**
 * Stripped state (client-server-api "Stripped state"): the few state events that let a user see
 * what room an invite or knock is for. Over federation (v1.16) the entries are full PDUs and
 * must include m.room.create; clients get {type, state_key, content, sender}.
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { StateSnapshot } from '../state/state-cache.ts';

export const STRIPPED_STATE_TYPES = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.avatar',
  'm.room.canonical_alias',
  'm.room.encryption',
  'm.room.topic',
];

/** The room's stripped state: full PDUs (`full`, for federation) or client-format entries. */
export async function strippedStateOf(core: RoomCore, state: StateSnapshot, full: boolean): Promise<JsonObject[]> {
  const ids = STRIPPED_STATE_TYPES.map((t) => state.get(t)).filter((x): x is string => !!x);
  const evs = await core.eventCache.getMany(ids);
  const out: JsonObject[] = [];
  for (const id of ids) {
    const e = evs.get(id);
    if (!e) continue;
    out.push(full ? (e.pdu as unknown as JsonObject) : { type: e.type, state_key: e.stateKey ?? '', content: e.pdu.content, sender: e.sender });
  }
  return out;
}

/** Client-format entries from what another server sent (full PDUs or already stripped). */
export function toStripped(list: unknown[]): JsonObject[] {
  const out: JsonObject[] = [];
  for (const x of list.slice(0, 50)) {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) continue;
    const e = x as JsonObject;
    if (typeof e.type !== 'string' || typeof e.state_key !== 'string' || typeof e.sender !== 'string') continue;
    if (typeof e.content !== 'object' || e.content === null || Array.isArray(e.content)) continue;
    out.push({ type: e.type, state_key: e.state_key, content: e.content, sender: e.sender });
  }
  return out;
}
