/**
 * Checks on the signed JSON objects clients upload: device keys, one-time/fallback keys and
 * cross-signing keys (end_to_end_encryption.md "Key algorithms", "Uploading keys"; definitions
 * device_keys.yaml and cross_signing_key.yaml). Pure: no I/O. Each check returns an error
 * message for the client, or the parsed facts the caller stores.
 */
import { verifyJsonSignature } from '../../protocol/signing.ts';
import { tryDecodeBase64 } from '../../protocol/base64.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';

export type Check<T> = { ok: true; value: T } | { ok: false; errcode: string; error: string };

const fail = (errcode: string, error: string): { ok: false; errcode: string; error: string } => ({ ok: false, errcode, error });

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An ed25519 public key: unpadded base64 of 32 bytes. */
export function isEd25519PublicKey(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  const bytes = tryDecodeBase64(v);
  return bytes !== undefined && bytes.byteLength === 32;
}

export interface DeviceKeysFacts {
  ed25519: string;
}

/**
 * device_keys.yaml: user_id and device_id "must match" the logged-in user and device; keys
 * carry `ed25519:<device_id>`; the object is signed by that key ("must be signed by that key",
 * "Uploading keys").
 */
export function checkDeviceKeys(obj: unknown, userId: string, deviceId: string): Check<DeviceKeysFacts> {
  if (!isObject(obj)) return fail('M_BAD_JSON', 'device_keys must be an object');
  if (obj.user_id !== userId) return fail('M_INVALID_PARAM', 'device_keys.user_id does not match the logged-in user');
  if (obj.device_id !== deviceId) return fail('M_INVALID_PARAM', 'device_keys.device_id does not match the logged-in device');
  if (!Array.isArray(obj.algorithms) || !obj.algorithms.every((a) => typeof a === 'string')) {
    return fail('M_BAD_JSON', 'device_keys.algorithms must be an array of strings');
  }
  if (!isObject(obj.keys) || !Object.values(obj.keys).every((k) => typeof k === 'string')) {
    return fail('M_BAD_JSON', 'device_keys.keys must map key IDs to strings');
  }
  for (const keyId of Object.keys(obj.keys)) {
    const colon = keyId.indexOf(':');
    // Keys are named <algorithm>:<device_id>: a key of another device would be a forgery.
    if (colon <= 0 || keyId.slice(colon + 1) !== deviceId) {
      return fail('M_INVALID_PARAM', `device_keys.keys: ${keyId} is not named <algorithm>:${deviceId}`);
    }
  }
  const ed25519 = obj.keys[`ed25519:${deviceId}`];
  if (!isEd25519PublicKey(ed25519)) return fail('M_INVALID_PARAM', `device_keys.keys lacks a valid ed25519:${deviceId} key`);
  if (!isObject(obj.signatures)) return fail('M_BAD_JSON', 'device_keys.signatures must be an object');
  if (!verifyJsonSignature(obj as JsonObject, userId, `ed25519:${deviceId}`, ed25519)) {
    return fail('M_INVALID_SIGNATURE', 'device_keys are not signed by the device ed25519 key');
  }
  return { ok: true, value: { ed25519 } };
}

export interface ParsedOneTimeKey {
  algorithm: string;
  keyId: string;
  /** What is stored and handed out: the value as uploaded. */
  value: unknown;
}

/**
 * Parses a map of `<algorithm>:<key_id>` → key (one_time_keys.yaml). Signed key objects
 * (`signed_*` algorithms, or any object carrying signatures) must be signed by the device's
 * ed25519 key; unsigned string keys are accepted for unsigned algorithms only.
 */
export function checkOneTimeKeys(
  map: unknown,
  field: string,
  userId: string,
  deviceId: string,
  deviceEd25519: string | undefined,
): Check<ParsedOneTimeKey[]> {
  if (!isObject(map)) return fail('M_BAD_JSON', `${field} must be an object`);
  const out: ParsedOneTimeKey[] = [];
  for (const [fullId, value] of Object.entries(map)) {
    const colon = fullId.indexOf(':');
    if (colon <= 0 || colon === fullId.length - 1) return fail('M_INVALID_PARAM', `${field}: ${fullId} is not <algorithm>:<key_id>`);
    const algorithm = fullId.slice(0, colon);
    const keyId = fullId.slice(colon + 1);
    if (fullId.length > 255) return fail('M_INVALID_PARAM', `${field}: key ID too long`);
    if (typeof value === 'string') {
      if (algorithm.startsWith('signed_')) return fail('M_INVALID_SIGNATURE', `${field}: ${fullId} must be a signed key object`);
      out.push({ algorithm, keyId, value });
      continue;
    }
    if (!isObject(value) || typeof value.key !== 'string') return fail('M_BAD_JSON', `${field}: ${fullId} must be a key object`);
    if (value.signatures !== undefined || algorithm.startsWith('signed_')) {
      if (!deviceEd25519) return fail('M_INVALID_PARAM', `${field}: upload device_keys before signed keys`);
      if (!verifyJsonSignature(value as JsonObject, userId, `ed25519:${deviceId}`, deviceEd25519)) {
        return fail('M_INVALID_SIGNATURE', `${field}: ${fullId} is not signed by the device ed25519 key`);
      }
    }
    out.push({ algorithm, keyId, value });
  }
  return { ok: true, value: out };
}

export type CrossSigningUsage = 'master' | 'self_signing' | 'user_signing';

export interface CrossSigningFacts {
  publicKey: string;
  keyId: string;
}

/**
 * cross_signing_key.yaml: user_id is the owner, `usage` names the role, `keys` has exactly one
 * entry `ed25519:<public key>` whose value is that public key.
 */
export function checkCrossSigningKey(obj: unknown, field: string, userId: string, usage: CrossSigningUsage): Check<CrossSigningFacts> {
  if (!isObject(obj)) return fail('M_BAD_JSON', `${field} must be an object`);
  if (obj.user_id !== userId) return fail('M_INVALID_PARAM', `${field}.user_id does not match the user`);
  if (!Array.isArray(obj.usage) || !obj.usage.includes(usage) || !obj.usage.every((u) => typeof u === 'string')) {
    return fail('M_INVALID_PARAM', `${field}.usage must include "${usage}"`);
  }
  if (!isObject(obj.keys)) return fail('M_BAD_JSON', `${field}.keys must be an object`);
  const entries = Object.entries(obj.keys);
  if (entries.length !== 1) return fail('M_INVALID_PARAM', `${field}.keys must hold exactly one key`);
  const [keyId, publicKey] = entries[0]!;
  if (!keyId.startsWith('ed25519:') || keyId.slice('ed25519:'.length) !== publicKey || !isEd25519PublicKey(publicKey)) {
    return fail('M_INVALID_PARAM', `${field}.keys must be "ed25519:<public key>": <public key>`);
  }
  if (obj.signatures !== undefined && !isObject(obj.signatures)) return fail('M_BAD_JSON', `${field}.signatures must be an object`);
  return { ok: true, value: { publicKey, keyId } };
}

/** Does `obj` carry a valid signature by `signer`'s key `ed25519:<publicKey>`? */
export function signedByKey(obj: Record<string, unknown>, signer: string, publicKey: string): boolean {
  return verifyJsonSignature(obj as JsonObject, signer, `ed25519:${publicKey}`, publicKey);
}

/** The object without `signatures` and `unsigned`: what a signature covers. */
export function signedPart(obj: Record<string, unknown>): Record<string, unknown> {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return rest;
}
