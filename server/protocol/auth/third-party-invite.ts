/**
 * Third-party invite signatures (membership rule "If any signature in `signed` matches any public
 * key in the m.room.third_party_invite event, allow"). `signed` is signed by an identity server
 * (client-server-api "m.room.member" third_party_invite.signed): any of its ed25519 signatures
 * that verifies with `publicKey` counts.
 */
import type { JsonObject } from '../pdu-types.ts';
import { signatureKeyIds, verifyJsonSignature } from '../signing.ts';
import { isObject } from './ids.ts';

/** The default `AuthOptions.verifySignedWithKey`: real ed25519 verification of the canonical JSON. */
export function verifySignedWithKey(signed: JsonObject, publicKey: string): boolean {
  const sigs = signed.signatures;
  if (!isObject(sigs)) return false;
  for (const server of Object.keys(sigs)) {
    for (const keyId of signatureKeyIds(signed, server)) {
      if (verifyJsonSignature(signed, server, keyId, publicKey)) return true;
    }
  }
  return false;
}
