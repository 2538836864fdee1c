/**
 * The first three "Checks performed on receipt of a PDU" (server-server-api):
 * 1. a valid event for its room version, otherwise dropped;
 * 2. signature checks ("Validating hashes and signatures on received events"), otherwise dropped;
 * 3. hash checks, otherwise the event is redacted before being processed further.
 * The rest (auth against auth events, state before, current state) is remote-events.ts.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { JsonObject, Pdu } from '../../protocol/pdu-types.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import { checkPdu } from '../../protocol/pdu.ts';
import { checkContentHash, verifyEventSignature } from '../../protocol/hashing.ts';
import { redact } from '../../protocol/redaction.ts';
import { canonicalJsonBytes } from '../../protocol/canonical-json.ts';
import { encodeBase64, encodeBase64Url, tryDecodeBase64 } from '../../protocol/base64.ts';
import { isKeyValidForEvent, signatureKeyIds } from '../../protocol/signing.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import type { KeyRing } from './keys.ts';

export interface CheckedPdu {
  eventId: string;
  /** The event to process: as received, or redacted when its content hash did not match. */
  pdu: Pdu;
  /** True when the hash check failed and `pdu` is the redacted copy. */
  redacted: boolean;
}

export class PduCheckError extends Error {
  constructor(
    message: string,
    readonly eventId?: string,
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The servers whose signatures an event needs: the sender's server (except for invites made
 * from a third-party invite, whose sender is the original inviter while another server may
 * send it); in v1–v2 also the server of the event ID; for restricted joins also the server of
 * join_authorised_via_users_server.
 */
export function requiredSigners(pdu: Pdu, version: RoomVersion, eventId: string): string[] {
  const out = new Set<string>();
  const content = pdu.content;
  const isThirdPartyInvite = pdu.type === 'm.room.member' && content.membership === 'invite' && isObject(content.third_party_invite);
  const sender = serverNameOf(pdu.sender);
  if (!isThirdPartyInvite && sender) out.add(sender);
  if (version.eventIdFormat === 'v1') {
    const idServer = serverNameOf(eventId);
    if (idServer) out.add(idServer);
  }
  if (
    version.restrictedJoinRule &&
    pdu.type === 'm.room.member' &&
    content.membership === 'join' &&
    typeof content.join_authorised_via_users_server === 'string'
  ) {
    const via = serverNameOf(content.join_authorised_via_users_server);
    if (via) out.add(via);
  }
  return [...out];
}

/**
 * Checks the event's signatures from `server`: every signature made with a key we know and that
 * had not expired at origin_server_ts must verify, and at least one must.
 */
export async function hasValidSignature(pdu: Pdu, version: RoomVersion, server: string, keys: KeyRing): Promise<boolean> {
  const redacted = redact(pdu, version);
  let valid = 0;
  for (const keyId of signatureKeyIds(redacted as unknown as JsonObject, server)) {
    const key = await keys.verifyKey(server, keyId, version.enforceKeyValidity ? pdu.origin_server_ts : 0);
    if (!key || !isKeyValidForEvent(key, pdu.origin_server_ts, version)) continue; // unknown or expired: skipped
    if (!verifyEventSignature(redacted, version, server, keyId, key.key)) return false;
    valid++;
  }
  return valid > 0;
}

/** DER prefix of an ed25519 SubjectPublicKeyInfo (node:crypto wants a KeyObject). */
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
const keyObjects = new Map<string, KeyObject>();

function keyObject(pub: Uint8Array): KeyObject | undefined {
  if (pub.byteLength !== 32) return undefined;
  const k = Buffer.from(pub).toString('hex');
  let o = keyObjects.get(k);
  if (!o) {
    try {
      o = createPublicKey({ key: Buffer.concat([SPKI_ED25519, pub]), format: 'der', type: 'spki' });
    } catch {
      return undefined;
    }
    if (keyObjects.size > 512) keyObjects.delete(keyObjects.keys().next().value!);
    keyObjects.set(k, o);
  }
  return o;
}

/**
 * ed25519 verification on libuv's thread pool (the callback form of crypto.verify), so the
 * thousands of signatures of a big join are checked on every core while the main thread
 * canonicalises the next events.
 */
function verifyOnPool(data: Buffer, signature: Uint8Array, pub: Uint8Array): Promise<boolean> {
  const key = keyObject(pub);
  if (!key || signature.byteLength !== 64) return Promise.resolve(false);
  return new Promise((resolve) => cryptoVerify(null, data, key, signature, (err, ok) => resolve(!err && ok)));
}

/**
 * Step 2 over precomputed bytes: `signed` is the canonical JSON of the redacted event without
 * `signatures` and `unsigned` — exactly what the signatures cover.
 */
async function signedBy(pdu: Pdu, version: RoomVersion, signatures: JsonObject, signed: Buffer, server: string, keys: KeyRing): Promise<boolean> {
  let valid = 0;
  for (const keyId of signatureKeyIds({ signatures } as JsonObject, server)) {
    const key = await keys.verifyKey(server, keyId, version.enforceKeyValidity ? pdu.origin_server_ts : 0);
    if (!key || !isKeyValidForEvent(key, pdu.origin_server_ts, version)) continue; // unknown or expired: skipped
    const sig = tryDecodeBase64(String((signatures[server] as JsonObject)[keyId]));
    if (!sig || !(await verifyOnPool(signed, sig, key.key))) return false;
    valid++;
  }
  return valid > 0;
}

/** Steps 1–3 for one received PDU. Throws PduCheckError when it must be dropped. */
export async function checkReceivedPdu(raw: unknown, version: RoomVersion, keys: KeyRing): Promise<CheckedPdu> {
  if (!isObject(raw)) throw new PduCheckError('PDU is not an object');
  // `unsigned` is the sender's annotation, not part of the event: drop it before anything else.
  const { unsigned: _unsigned, ...rest } = raw;
  const formatError = checkPdu(rest, version);
  if (formatError) throw new PduCheckError(`invalid event: ${formatError.message}`);
  const pdu = rest as unknown as Pdu;
  // One canonical encoding of the redacted event serves the reference hash (the event ID) and
  // the signatures, which cover the same bytes.
  const { signatures, unsigned: _u, ...bare } = redact(pdu, version) as unknown as JsonObject;
  let signed: Buffer;
  try {
    signed = canonicalJsonBytes(bare, { strict: version.strictCanonicalJson });
  } catch (e) {
    throw new PduCheckError(`cannot encode the event: ${(e as Error).message}`);
  }
  let eventId: string;
  if (version.eventIdFormat === 'v1') {
    if (typeof pdu.event_id !== 'string') throw new PduCheckError('the event has no event_id');
    eventId = pdu.event_id;
  } else {
    const hash = new Uint8Array(createHash('sha256').update(signed).digest());
    eventId = '$' + (version.eventIdFormat === 'v3' ? encodeBase64(hash) : encodeBase64Url(hash));
  }
  const sigs = isObject(signatures) ? signatures : {};
  for (const server of requiredSigners(pdu, version, eventId)) {
    if (!(await signedBy(pdu, version, sigs, signed, server, keys))) {
      throw new PduCheckError(`event ${eventId} is not validly signed by ${server}`, eventId);
    }
  }
  if (!checkContentHash(pdu, version)) {
    // "assumed that this is because we have only been given a redacted version of the event".
    return { eventId, pdu: redact(pdu, version), redacted: true };
  }
  return { eventId, pdu, redacted: false };
}

/** The (server, key ID) pairs whose keys are needed to check these PDUs' signatures. */
export function signingKeysNeeded(raws: unknown[], version: RoomVersion): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const raw of raws) {
    if (!isObject(raw) || !isObject(raw.signatures) || !isObject(raw.content) || typeof raw.sender !== 'string') continue;
    const id = typeof raw.event_id === 'string' ? raw.event_id : '$x';
    for (const server of requiredSigners(raw as unknown as Pdu, version, id)) {
      const mine = raw.signatures[server];
      if (!isObject(mine)) continue;
      let set = out.get(server);
      if (!set) out.set(server, (set = new Set()));
      for (const k of Object.keys(mine)) set.add(k);
    }
  }
  return out;
}
