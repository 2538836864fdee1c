/**
 * Building one local event (server-server-api "PDUs", "Auth events selection", "Adding hashes
 * and signatures to outgoing events"): prev_events from the head's forward extremities,
 * auth_events from the state before it, depth, content hash, signature, event ID, the size
 * limit, and the authorization rules. No storage: the caller supplies the events it cites.
 */
import { randomBytes, createHash } from 'node:crypto';
import type { JsonObject, Pdu, EventReference } from '../../protocol/pdu-types.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import { computeEventId, eventReference } from '../../protocol/hashing.ts';
import { CanonicalJsonError, canonicalJsonBytes } from '../../protocol/canonical-json.ts';
import { redact } from '../../protocol/redaction.ts';
import { encodeBase64, encodeBase64Url } from '../../protocol/base64.ts';
import { signBytes, type SigningKey } from '../../protocol/signing.ts';
import { authEventsNeeded, checkAuth, type IdentifiedPdu } from '../../protocol/auth/index.ts';
import { MAX_PDU_BYTES } from '../../protocol/pdu.ts';
import { MatrixError, forbidden, tooLarge } from '../../http/errors.ts';
import type { StoredEvent } from './event-cache.ts';
import { sk, type StateSnapshot } from '../state/state-cache.ts';

/** How many prev_events a new event cites at most (the spec allows 20). */
export const MAX_PREV = 10;

export interface LocalDraft {
  type: string;
  stateKey?: string;
  content: JsonObject;
  sender: string;
  /** m.room.redaction target (top level before v11, content.redacts from v11). */
  redacts?: string;
  /** origin_server_ts; default now. */
  ts?: number;
  /** Client transaction (idempotency and unsigned.transaction_id for the sending device). */
  txn?: { deviceId: string; txnId: string };
}

export interface HeadLike {
  roomId: string | undefined;
  version: RoomVersion;
  state: StateSnapshot;
  extremities: string[];
  depth: number;
}

export interface BuiltPdu {
  signed: Pdu;
  eventId: string;
  /** JSON of `signed` (what is stored). */
  json: string;
  content: JsonObject;
  prevIds: string[];
}

function contentOf(v: RoomVersion, draft: LocalDraft): JsonObject {
  const content: JsonObject = { ...draft.content };
  if (draft.redacts !== undefined && v.redactsInContent) content.redacts = draft.redacts;
  return content;
}

function authIdsOf(head: HeadLike, draft: LocalDraft, content: JsonObject): string[] {
  const skeleton = { type: draft.type, state_key: draft.stateKey, sender: draft.sender, content } as Pdu;
  const ids: string[] = [];
  for (const [t, s] of authEventsNeeded(skeleton, head.version)) {
    const id = head.state.get(t, s);
    if (id !== undefined) ids.push(id);
  }
  return ids;
}

/** A stored event's PDU with its event_id, made once per event (events are immutable; auth events are cited by every send). */
const identifiedPdus = new WeakMap<StoredEvent, IdentifiedPdu>();
function identified(ev: StoredEvent): IdentifiedPdu {
  let out = identifiedPdus.get(ev);
  if (!out || out.event_id !== ev.eventId) identifiedPdus.set(ev, (out = { ...ev.pdu, event_id: ev.eventId }));
  return out;
}

/** The events buildLocalPdu needs (auth events, prev events, the create event). */
export function localPduNeeds(head: HeadLike, draft: LocalDraft): Set<string> {
  const needed = new Set([...authIdsOf(head, draft, contentOf(head.version, draft)), ...head.extremities.slice(-MAX_PREV)]);
  const createId = head.state.get('m.room.create');
  if (createId) needed.add(createId);
  return needed;
}

/**
 * Builds, hashes, signs and auth-checks a local event. Throws 400 M_BAD_JSON (not canonical
 * JSON), 413 M_TOO_LARGE, or 403 M_FORBIDDEN (the authorization rules reject it).
 */
export function buildLocalPdu(
  head: HeadLike,
  draft: LocalDraft,
  known: ReadonlyMap<string, StoredEvent>,
  server: string,
  key: SigningKey,
  now: number,
): BuiltPdu {
  const v = head.version;
  const isCreate = draft.type === 'm.room.create' && draft.stateKey === '';
  const content = contentOf(v, draft);
  const authIds = authIdsOf(head, draft, content);
  const createId = head.state.get('m.room.create');
  const prevIds = head.extremities.slice(-MAX_PREV);
  const ref = (id: string): EventReference => {
    if (!v.eventReferencesAreHashes) return id;
    const ev = known.get(id);
    if (!ev) throw new Error(`missing event ${id}`);
    return eventReference(ev.eventId === id ? identified(ev) : { ...ev.pdu, event_id: id }, v);
  };
  let depth = 0;
  for (const id of prevIds) depth = Math.max(depth, known.get(id)?.depth ?? head.depth);

  const pdu: JsonObject = {
    ...(isCreate && v.roomIdFromCreateEvent ? {} : { room_id: head.roomId! }),
    sender: draft.sender,
    type: draft.type,
    ...(draft.stateKey !== undefined && { state_key: draft.stateKey }),
    content,
    origin_server_ts: draft.ts ?? now,
    depth: Math.min(depth + 1, Number.MAX_SAFE_INTEGER),
    prev_events: prevIds.map(ref) as JsonObject[keyof JsonObject],
    auth_events: authIds.map(ref) as JsonObject[keyof JsonObject],
    ...(draft.redacts !== undefined && !v.redactsInContent && { redacts: draft.redacts }),
    ...(v.eventIdFormat === 'v1' && { event_id: `$${randomBytes(12).toString('base64url')}:${server}` }),
  };
  let signed: Pdu;
  let eventId: string;
  try {
    ({ signed, eventId } = hashSignAndIdentify(pdu, v, server, key));
  } catch (e) {
    if (e instanceof CanonicalJsonError) throw new MatrixError(400, 'M_BAD_JSON', `Event is not canonical JSON: ${e.message}`);
    throw e;
  }
  const json = JSON.stringify(signed);
  // UTF-8 needs at most 3 bytes per UTF-16 unit: only long texts need counting.
  if (json.length * 3 > MAX_PDU_BYTES && Buffer.byteLength(json) > MAX_PDU_BYTES) throw tooLarge(`Event is larger than ${MAX_PDU_BYTES} bytes`);

  // The authorization rules, against the state before the event (= its auth events here; in
  // v12 the create event too, which is no longer an auth event).
  const authMap = new Map<string, IdentifiedPdu>();
  for (const id of createId ? [createId, ...authIds] : authIds) {
    const ev = known.get(id);
    if (ev) authMap.set(sk(ev.type, ev.stateKey ?? ''), identified(ev));
  }
  const result = checkAuth({ ...signed, event_id: eventId }, authMap, v);
  if (!result.ok) throw forbidden(result.reason);
  return { signed, eventId, json, content, prevIds };
}

/**
 * "Adding hashes and signatures to outgoing events" plus the event ID, encoding the redacted
 * event once: the bytes that are signed (redacted, without signatures and unsigned) are exactly
 * the reference hash's input, so the v3+ event ID is their SHA-256 (same result as signEvent +
 * computeEventId in protocol/hashing.ts, one canonical encoding fewer per event).
 */
function hashSignAndIdentify(pdu: JsonObject, v: RoomVersion, server: string, key: SigningKey): { signed: Pdu; eventId: string } {
  const strict = v.strictCanonicalJson;
  // The content hash covers the event without unsigned, signatures and hashes: `pdu` as built
  // has none of them, so it is hashed as is (protocol/hashing.ts computeContentHash copies first).
  const contentHash = createHash('sha256').update(canonicalJsonBytes(pdu, { strict })).digest();
  const hashed: JsonObject = { ...pdu, hashes: { sha256: encodeBase64(contentHash) } };
  // The redacted event has no signatures or unsigned either (hashed has none).
  const bytes = canonicalJsonBytes(redact(hashed, v), { strict });
  const signature = encodeBase64(signBytes(bytes, key.seed));
  const signed = { ...hashed, signatures: { [server]: { [key.keyId]: signature } } } as unknown as Pdu;
  let eventId: string;
  if (v.eventIdFormat === 'v1') eventId = computeEventId(signed, v);
  else {
    const digest = new Uint8Array(createHash('sha256').update(bytes).digest());
    eventId = '$' + (v.eventIdFormat === 'v3' ? encodeBase64(digest) : encodeBase64Url(digest));
  }
  return { signed, eventId };
}
