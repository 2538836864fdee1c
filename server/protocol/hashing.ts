/**
 * Event hashes, IDs and signatures (server-server-api.md "Signing Events", "Calculating the
 * reference hash", "Calculating the content hash"; rooms/v1 "Event IDs", v3, v4-event-ids.md,
 * appendices "Room IDs" for v12).
 *
 * All functions take the PDU in federation format. In v3+ the event ID is not part of the event:
 * do not leave an `event_id` on a v3+ PDU before hashing it, or the hash covers it.
 */
import { createHash } from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.ts';
import { encodeBase64, encodeBase64Url, tryDecodeBase64 } from './base64.ts';
import { redact } from './redaction.ts';
import { signJson, verifyJsonSignature, type Signatures } from './signing.ts';
import type { EventReference, JsonObject, Pdu } from './pdu-types.ts';
import type { RoomVersion } from './room-versions.ts';

type EventLike = Pdu | JsonObject;

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function canonical(value: JsonObject, version: RoomVersion): Buffer {
  // v1–v5 must tolerate non-canonical numbers in events (appendices warning box).
  return canonicalJsonBytes(value, { strict: version.strictCanonicalJson });
}

/** SHA-256 over the canonical JSON of the event without `unsigned`, `signatures` and `hashes`. */
export function computeContentHash(pdu: EventLike, version: RoomVersion): Uint8Array {
  const { unsigned: _u, signatures: _s, hashes: _h, ...rest } = pdu as JsonObject;
  return sha256(canonical(rest, version));
}

/** Return a copy of `pdu` with `hashes.sha256` set to its content hash (other algorithms kept). */
export function addContentHash<T extends EventLike>(pdu: T, version: RoomVersion): T {
  const old = (pdu as JsonObject).hashes;
  const hashes = typeof old === 'object' && old !== null && !Array.isArray(old) ? old : {};
  return { ...pdu, hashes: { ...hashes, sha256: encodeBase64(computeContentHash(pdu, version)) } };
}

/**
 * Does `hashes.sha256` match the content? False when missing, not base64, or different; the spec
 * then says to use the redacted event instead of the received one.
 */
export function checkContentHash(pdu: EventLike, version: RoomVersion): boolean {
  const hashes = (pdu as JsonObject).hashes;
  if (typeof hashes !== 'object' || hashes === null || Array.isArray(hashes)) return false;
  const claimed = typeof hashes.sha256 === 'string' ? tryDecodeBase64(hashes.sha256) : undefined;
  if (!claimed) return false;
  let actual: Uint8Array;
  try {
    actual = computeContentHash(pdu, version);
  } catch {
    return false;
  }
  return Buffer.from(claimed).equals(Buffer.from(actual));
}

/** SHA-256 over the canonical JSON of the redacted event without `signatures` and `unsigned`. */
export function computeReferenceHash(pdu: EventLike, version: RoomVersion): Uint8Array {
  const { signatures: _s, unsigned: _u, ...rest } = redact(pdu as JsonObject, version);
  return sha256(canonical(rest, version));
}

/**
 * The event ID of a PDU. v1–v2: the `event_id` the origin chose (`$opaque:domain`), which must be
 * present. v3: `$` + unpadded standard base64 of the reference hash. v4+: URL-safe base64.
 */
export function computeEventId(pdu: EventLike, version: RoomVersion): string {
  switch (version.eventIdFormat) {
    case 'v1': {
      const id = (pdu as JsonObject).event_id;
      if (typeof id !== 'string') throw new TypeError(`room version ${version.id} events carry their own event_id`);
      return id;
    }
    case 'v3':
      return '$' + encodeBase64(computeReferenceHash(pdu, version));
    case 'v4':
      return '$' + encodeBase64Url(computeReferenceHash(pdu, version));
  }
}

/**
 * v12: the room ID is the create event's event ID with `!` instead of `$`, i.e. `!` + URL-safe
 * unpadded base64 of its reference hash (appendices "Room IDs").
 */
export function computeRoomIdFromCreateEvent(createEvent: EventLike, version: RoomVersion): string {
  if (!version.roomIdFromCreateEvent) throw new TypeError(`room version ${version.id} room IDs are not derived from the create event`);
  return '!' + encodeBase64Url(computeReferenceHash(createEvent, version));
}

/**
 * How another event cites this one in prev_events/auth_events: v1–v2 `[event_id, {sha256}]`
 * (reference hash, standard base64), v3+ the event ID.
 */
export function eventReference(pdu: EventLike, version: RoomVersion): EventReference {
  const id = computeEventId(pdu, version);
  if (!version.eventReferencesAreHashes) return id;
  return [id, { sha256: encodeBase64(computeReferenceHash(pdu, version)) }];
}

/**
 * Add this server's signature to an event without touching its hashes: the redacted event is
 * signed and the signature copied back (for co-signing events built elsewhere, e.g. invites).
 */
export function addEventSignature<T extends EventLike>(pdu: T, version: RoomVersion, serverName: string, keyId: string, seed: Uint8Array | string): T {
  const signed = signJson(redact(pdu as JsonObject, version), serverName, keyId, seed, { strict: version.strictCanonicalJson });
  return { ...pdu, signatures: signed.signatures };
}

/**
 * Hash and sign an outgoing event ("Adding hashes and signatures to outgoing events"): set
 * `hashes.sha256` to the content hash, redact, sign the redacted copy, copy the signature back.
 */
export function signEvent<T extends EventLike>(pdu: T, version: RoomVersion, serverName: string, keyId: string, seed: Uint8Array | string): T {
  return addEventSignature(addContentHash(pdu, version), version, serverName, keyId, seed);
}

/**
 * Is the event validly signed by `serverName` with `keyId`? The event is redacted first, so this
 * holds for the full event and for a redacted copy alike. Key validity (valid_until_ts,
 * expired_ts) is the caller's: see isKeyValidForEvent in signing.ts.
 */
export function verifyEventSignature(pdu: EventLike, version: RoomVersion, serverName: string, keyId: string, publicKey: Uint8Array | string): boolean {
  return verifyJsonSignature(redact(pdu as JsonObject, version), serverName, keyId, publicKey);
}

/** The signatures object of an event, or {} if absent/malformed. */
export function eventSignatures(pdu: EventLike): Signatures {
  const s = (pdu as JsonObject).signatures;
  return typeof s === 'object' && s !== null && !Array.isArray(s) ? (s as Signatures) : {};
}
