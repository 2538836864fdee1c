/**
 * Builds an event on top of a room's current state without persisting it: make_join /
 * make_leave / make_knock templates for other servers, and invites that the invitee's server
 * must sign before we persist them. prev_events are the forward extremities, auth_events follow
 * "Auth events selection", depth is one more than the deepest prev event.
 */
import { randomBytes } from 'node:crypto';
import type { EventReference, JsonObject, Pdu } from '../../protocol/pdu-types.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import { authEventsNeeded } from '../../protocol/auth/index.ts';
import { eventReference } from '../../protocol/hashing.ts';
import type { RoomCore } from '../rooms/core.ts';
import type { StateSnapshot } from '../state/state-cache.ts';
import { notFound } from '../../http/errors.ts';

const MAX_PREV = 10;

export interface Draft {
  type: string;
  stateKey?: string;
  sender: string;
  content: JsonObject;
}

export interface BuiltEvent {
  /** The event without hashes and signatures. */
  template: Pdu;
  version: RoomVersion;
  state: StateSnapshot;
}

export async function buildEvent(core: RoomCore, roomId: string, draft: Draft, originServer: string): Promise<BuiltEvent> {
  const version = await core.maybeVersionOf(roomId);
  const state = await core.currentState(roomId);
  if (!version || !state) throw notFound('Unknown room');
  const skeleton = { type: draft.type, state_key: draft.stateKey, sender: draft.sender, content: draft.content } as Pdu;
  const authIds: string[] = [];
  for (const [t, s] of authEventsNeeded(skeleton, version)) {
    const id = state.get(t, s);
    if (id !== undefined) authIds.push(id);
  }
  const extremities = (await core.events.getExtremities(roomId)).slice(-MAX_PREV);
  const known = await core.eventCache.getMany([...authIds, ...extremities]);
  const ref = (id: string): EventReference => {
    if (!version.eventReferencesAreHashes) return id;
    const ev = known.get(id);
    if (!ev) throw new Error(`missing event ${id}`);
    return eventReference({ ...ev.pdu, event_id: id }, version);
  };
  let depth = 0;
  for (const id of extremities) depth = Math.max(depth, known.get(id)?.depth ?? 0);
  const template: JsonObject = {
    room_id: roomId,
    sender: draft.sender,
    type: draft.type,
    ...(draft.stateKey !== undefined && { state_key: draft.stateKey }),
    content: draft.content,
    // Top-level `origin` was dropped from the event format in v11.
    ...(!version.implicitCreator && { origin: originServer }),
    origin_server_ts: core.now(),
    depth: Math.min(depth + 1, Number.MAX_SAFE_INTEGER),
    prev_events: extremities.map(ref) as JsonObject[keyof JsonObject],
    auth_events: authIds.map(ref) as JsonObject[keyof JsonObject],
    ...(version.eventIdFormat === 'v1' && { event_id: `$${randomBytes(12).toString('base64url')}:${originServer}` }),
  };
  return { template: template as unknown as Pdu, version, state };
}
