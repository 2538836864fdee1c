/**
 * The shape of a persistent data unit (PDU) as it travels between servers.
 * Spec: server-server-api.md "PDUs" and rooms/fragments/*-event-format.md.
 * Field presence differs per room version (see room-versions.ts); this type is the union.
 */

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** v1–v2 reference: `[event_id, { sha256: "…" }]`. v3+: the event ID string. */
export type EventReference = string | [string, { sha256?: string }];

export interface Pdu {
  /** Present on the wire only in room versions 1 and 2. */
  event_id?: string;
  /** Absent on a v12 m.room.create event (the room ID is derived from it). */
  room_id?: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  origin_server_ts: number;
  depth: number;
  prev_events: EventReference[];
  auth_events: EventReference[];
  /** v11+ puts `redacts` in content; earlier versions have it at the top level. */
  redacts?: string;
  hashes: { sha256: string; [alg: string]: string };
  signatures: { [server: string]: { [keyId: string]: string } };
  unsigned?: JsonObject;
  /** Pre-v11 top-level keys that some servers still send. */
  origin?: string;
  membership?: string;
  prev_state?: Json;
  [extra: string]: Json | undefined;
}
