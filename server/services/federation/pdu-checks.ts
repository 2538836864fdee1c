/**
 * The first three "Checks performed on receipt of a PDU" (server-server-api):
 * 1. a valid event for its room version, otherwise dropped;
 * 2. signature checks ("Validating hashes and signatures on received events"), otherwise dropped;
 * 3. hash checks, otherwise the event is redacted before being processed further.
 * The rest (auth against auth events, state before, current state) is remote-events.ts.
 */
import type { JsonObject, Pdu } from '../../protocol/pdu-types.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import { checkPdu } from '../../protocol/pdu.ts';
import { checkContentHash, computeEventId, verifyEventSignature } from '../../protocol/hashing.ts';
import { redact } from '../../protocol/redaction.ts';
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

/** Steps 1–3 for one received PDU. Throws PduCheckError when it must be dropped. */
export async function checkReceivedPdu(raw: unknown, version: RoomVersion, keys: KeyRing): Promise<CheckedPdu> {
  if (!isObject(raw)) throw new PduCheckError('PDU is not an object');
  // `unsigned` is the sender's annotation, not part of the event: drop it before anything else.
  const { unsigned: _unsigned, ...rest } = raw;
  const formatError = checkPdu(rest, version);
  if (formatError) throw new PduCheckError(`invalid event: ${formatError.message}`);
  const pdu = rest as unknown as Pdu;
  let eventId: string;
  try {
    eventId = computeEventId(pdu, version);
  } catch (e) {
    throw new PduCheckError(`cannot compute the event ID: ${(e as Error).message}`);
  }
  for (const server of requiredSigners(pdu, version, eventId)) {
    if (!(await hasValidSignature(pdu, version, server, keys))) {
      throw new PduCheckError(`event ${eventId} is not validly signed by ${server}`, eventId);
    }
  }
  if (!checkContentHash(pdu, version)) {
    // "assumed that this is because we have only been given a redacted version of the event".
    return { eventId, pdu: redact(pdu, version), redacted: true };
  }
  return { eventId, pdu, redacted: false };
}
