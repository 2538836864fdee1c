/**
 * Shared types of the authorization rules (rooms/v1.md … v12.md "Authorisation rules").
 * Pure: no I/O. Signature checks the rules need are injected through `AuthOptions`.
 */
import type { JsonObject, Pdu } from '../pdu-types.ts';

/** A PDU together with its event ID (carried on the wire in v1–v2, computed from the hash in v3+). */
export type IdentifiedPdu = Pdu & { event_id: string };

/**
 * The state the rules look at: `type + "\u0000" + state_key` → event. Built by the caller either
 * from an event's `auth_events` or from the room state at / before the event.
 */
export type AuthEventMap = ReadonlyMap<string, IdentifiedPdu>;

/** Key of a state entry in an `AuthEventMap` / state map. NUL cannot occur in event types. */
export function stateKeyOf(type: string, stateKey: string): string {
  return `${type}\u0000${stateKey}`;
}

/** Inverse of `stateKeyOf`. */
export function splitStateKey(key: string): [type: string, stateKey: string] {
  const i = key.indexOf('\u0000');
  return i < 0 ? [key, ''] : [key.slice(0, i), key.slice(i + 1)];
}

/**
 * Outcome of an authorization check. `rule` is the rule's number as the spec numbers it for the
 * room version being checked ("5.2.3" in v1 is "4.3.3" in v8); `ruleId` is a stable name for the
 * same rule across versions ("member.join.banned"). Accepted events also say which rule allowed them.
 */
export type AuthResult =
  | { ok: true; rule?: string; ruleId?: string }
  | { ok: false; reason: string; rule: string; ruleId: string };

export interface AuthOptions {
  /**
   * Third-party invites (membership rule "If any signature in `signed` matches any public key in the
   * `m.room.third_party_invite` event, allow"): true if `signed` carries a valid ed25519 signature
   * made with `publicKey` (unpadded base64). Default: ed25519 verification (third-party-invite.ts).
   */
  verifySignedWithKey?: (signed: JsonObject, publicKey: string) => boolean;
  /**
   * Since v8, "If `content` has a `join_authorised_via_users_server` key: if the event is not validly
   * signed by the homeserver of the user ID denoted by the key, reject." True if `event` carries a
   * valid signature from `serverName`. Without it, only the presence of such a signature is checked.
   */
  isSignedBy?: (event: Pdu, serverName: string) => boolean;
  /** Rule "entries which were themselves rejected": true if the event with this ID was rejected. */
  isRejected?: (eventId: string) => boolean;
  /** Create rule "If `content.room_version` is present and is not a recognised version". Default: versions 1–12. */
  isKnownRoomVersion?: (id: string) => boolean;
}
