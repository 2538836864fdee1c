/**
 * Signing JSON with ed25519 (appendices.md "Signing JSON", "Checking for a Signature") and the
 * server-key objects of server-server-api.md "Retrieving server keys".
 * Keys are derived from a 32-byte seed the caller supplies: this module draws no randomness.
 */
import { createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { canonicalJsonBytes } from './canonical-json.ts';
import { decodeBase64, encodeBase64, tryDecodeBase64 } from './base64.ts';
import type { Json, JsonObject } from './pdu-types.ts';
import type { RoomVersion } from './room-versions.ts';

/** DER headers that wrap a raw 32-byte ed25519 seed (PKCS#8) or public key (SPKI) for node:crypto. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/** The `signatures` member: server name → key ID → unpadded base64 signature. */
export type Signatures = { [server: string]: { [keyId: string]: string } };

/** A server's signing key: `keyId` like `ed25519:a_1`, the 32-byte seed, and its public half. */
export interface SigningKey {
  readonly keyId: string;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Unpadded standard base64 of publicKey, as published in `verify_keys`. */
  readonly publicKeyBase64: string;
}

/** A key for checking signatures, with the limits that make it usable for an event. */
export interface VerifyKey {
  readonly key: Uint8Array;
  /** From `valid_until_ts` of the response that listed it in `verify_keys` (already capped, see effectiveValidUntilTs). */
  readonly validUntilTs?: number;
  /** From `old_verify_keys[…].expired_ts`. */
  readonly expiredTs?: number;
}

/**
 * Split a signing key identifier `algorithm:version`. The version must match `[a-zA-Z0-9_]+`
 * (keys.yaml). Returns undefined if malformed.
 */
export function parseKeyId(keyId: string): { algorithm: string; version: string } | undefined {
  const m = /^([^:]+):([a-zA-Z0-9_]+)$/.exec(keyId);
  return m ? { algorithm: m[1]!, version: m[2]! } : undefined;
}

const privateKeys = new Map<string, KeyObject>();
/** By seed object too: the server's key signs every event, and hex-encoding its seed each time showed up. */
const privateKeysBySeed = new WeakMap<Uint8Array, KeyObject>();

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  const known = privateKeysBySeed.get(seed);
  if (known) return known;
  if (seed.byteLength !== 32) throw new RangeError('an ed25519 seed is 32 bytes');
  const cacheKey = Buffer.from(seed).toString('hex');
  let key = privateKeys.get(cacheKey);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
    if (privateKeys.size >= 64) privateKeys.delete(privateKeys.keys().next().value!);
    privateKeys.set(cacheKey, key);
  }
  privateKeysBySeed.set(seed, key);
  return key;
}

const publicKeys = new Map<string, KeyObject>();

function publicKeyObject(publicKey: Uint8Array): KeyObject | undefined {
  if (publicKey.byteLength !== 32) return undefined;
  const cacheKey = Buffer.from(publicKey).toString('hex');
  let key = publicKeys.get(cacheKey);
  if (!key) {
    try {
      key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, publicKey]), format: 'der', type: 'spki' });
    } catch {
      return undefined;
    }
    // A handful of servers' keys are hot; bound the cache so hostile input cannot grow it.
    if (publicKeys.size >= 256) publicKeys.delete(publicKeys.keys().next().value!);
    publicKeys.set(cacheKey, key);
  }
  return key;
}

function toBytes(v: Uint8Array | string): Uint8Array {
  return typeof v === 'string' ? decodeBase64(v) : v;
}

/** The 32-byte ed25519 public key for a seed. */
export function publicKeyFromSeed(seed: Uint8Array | string): Uint8Array {
  const der = createPublicKey(privateKeyFromSeed(toBytes(seed))).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** Build a SigningKey from a seed (bytes or unpadded base64) and a key ID such as `ed25519:1`. */
export function signingKeyFromSeed(seed: Uint8Array | string, keyId: string): SigningKey {
  const parsed = parseKeyId(keyId);
  if (!parsed || parsed.algorithm !== 'ed25519') throw new RangeError(`not an ed25519 key id: ${keyId}`);
  const seedBytes = new Uint8Array(toBytes(seed));
  const publicKey = publicKeyFromSeed(seedBytes);
  return { keyId, seed: seedBytes, publicKey, publicKeyBase64: encodeBase64(publicKey) };
}

/** Raw ed25519 signature (64 bytes) of `data`. */
export function signBytes(data: Uint8Array, seed: Uint8Array | string): Uint8Array {
  return new Uint8Array(edSign(null, data, privateKeyFromSeed(toBytes(seed))));
}

/** Check a raw ed25519 signature. False (never a throw) for malformed keys or signatures. */
export function verifyBytes(data: Uint8Array, signature: Uint8Array, publicKey: Uint8Array | string): boolean {
  const keyBytes = typeof publicKey === 'string' ? tryDecodeBase64(publicKey) : publicKey;
  const key = keyBytes && publicKeyObject(keyBytes);
  if (!key || signature.byteLength !== 64) return false;
  try {
    return edVerify(null, data, key, signature);
  } catch {
    return false;
  }
}

function withoutSignaturesAndUnsigned(obj: JsonObject): JsonObject {
  const { signatures: _s, unsigned: _u, ...rest } = obj;
  return rest as JsonObject;
}

/**
 * Sign `obj` as `serverName` with `keyId`: the canonical JSON of the object without `signatures`
 * and `unsigned` is signed and the base64 signature is added under signatures[serverName][keyId].
 * Returns a new object; existing signatures and `unsigned` are kept. `strict: false` allows the
 * non-canonical numbers tolerated in room versions 1–5.
 */
export function signJson<T extends JsonObject>(
  obj: T,
  serverName: string,
  keyId: string,
  seed: Uint8Array | string,
  options: { strict?: boolean } = {},
): T & { signatures: Signatures } {
  const bytes = canonicalJsonBytes(withoutSignaturesAndUnsigned(obj), { strict: options.strict ?? true });
  const signature = encodeBase64(signBytes(bytes, seed));
  const old = (obj.signatures ?? {}) as Signatures;
  const signatures: Signatures = { ...old, [serverName]: { ...(old[serverName] ?? {}), [keyId]: signature } };
  return { ...obj, signatures };
}

/**
 * Check that `obj` carries a valid signature from `serverName` with `keyId` (appendices
 * "Checking for a Signature" steps 1, 4–7). False if the entry is missing, not base64, or wrong.
 */
export function verifyJsonSignature(obj: JsonObject, serverName: string, keyId: string, publicKey: Uint8Array | string): boolean {
  const sigs = obj.signatures;
  if (!isObject(sigs)) return false;
  const mine = sigs[serverName];
  if (!isObject(mine)) return false;
  const sig = mine[keyId];
  if (typeof sig !== 'string') return false;
  const sigBytes = tryDecodeBase64(sig);
  if (!sigBytes) return false;
  let bytes: Uint8Array;
  try {
    // Lenient encoding: identical bytes for valid input, and old rooms' floats still verify.
    bytes = canonicalJsonBytes(withoutSignaturesAndUnsigned(obj), { strict: false });
  } catch {
    return false;
  }
  return verifyBytes(bytes, sigBytes, publicKey);
}

/** The ed25519 key IDs `serverName` signed `obj` with (step 2: unknown algorithms dropped). */
export function signatureKeyIds(obj: JsonObject, serverName: string): string[] {
  const sigs = obj.signatures;
  if (!isObject(sigs) || !isObject(sigs[serverName])) return [];
  return Object.keys(sigs[serverName] as JsonObject).filter((id) => parseKeyId(id)?.algorithm === 'ed25519');
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// --- key validity -------------------------------------------------------------------------------

/** A key response is trusted for at most 7 days after it was fetched (v5-signing-requirements). */
export const MAX_KEY_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * "Servers MUST use the lesser of valid_until_ts and 7 days into the future" (v5-signing-requirements):
 * pass the time the key response was fetched; store the result as VerifyKey.validUntilTs.
 */
export function effectiveValidUntilTs(validUntilTs: number, fetchedAtMs: number): number {
  return Math.min(validUntilTs, fetchedAtMs + MAX_KEY_VALIDITY_MS);
}

/**
 * May `key` verify an event sent at `originServerTs` in a room of `version`?
 * - Old keys: ignored if they expired before the event (`expired_ts` < origin_server_ts; all versions).
 * - Since v5, `valid_until_ts` must be at least origin_server_ts; v1–v4 ignore it.
 */
export function isKeyValidForEvent(key: Pick<VerifyKey, 'validUntilTs' | 'expiredTs'>, originServerTs: number, version: RoomVersion): boolean {
  if (key.expiredTs !== undefined && originServerTs > key.expiredTs) return false;
  if (version.enforceKeyValidity && key.validUntilTs !== undefined && originServerTs > key.validUntilTs) return false;
  return true;
}

// --- server key objects (GET /_matrix/key/v2/server) -------------------------------------------

/** The body of GET /_matrix/key/v2/server (keys.yaml). */
export interface ServerKeysObject extends JsonObject {
  server_name: string;
  valid_until_ts: number;
  verify_keys: { [keyId: string]: { key: string } };
  old_verify_keys: { [keyId: string]: { key: string; expired_ts: number } };
  signatures: Signatures;
}

/** A retired key to list under `old_verify_keys`. */
export interface OldKey {
  keyId: string;
  publicKeyBase64: string;
  expiredTs: number;
}

/** Build and self-sign (with every current key) the object served at /_matrix/key/v2/server. */
export function makeServerKeys(serverName: string, current: SigningKey[], old: OldKey[], validUntilTs: number): ServerKeysObject {
  let obj: JsonObject = {
    server_name: serverName,
    valid_until_ts: validUntilTs,
    verify_keys: Object.fromEntries(current.map((k) => [k.keyId, { key: k.publicKeyBase64 }])),
    old_verify_keys: Object.fromEntries(old.map((k) => [k.keyId, { key: k.publicKeyBase64, expired_ts: k.expiredTs }])),
  };
  for (const k of current) obj = signJson(obj, serverName, k.keyId, k.seed);
  return obj as ServerKeysObject;
}

/**
 * Read a key response (from a server or a notary) into VerifyKeys by key ID. Checks the shape,
 * that `server_name` is `expectedServer`, and that it is signed by at least one of its own
 * `verify_keys` with every such signature valid. Returns an error string instead on failure.
 * `fetchedAtMs` caps valid_until_ts at 7 days (effectiveValidUntilTs).
 */
export function readServerKeys(value: unknown, expectedServer: string, fetchedAtMs: number): Map<string, VerifyKey> | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const obj = value as JsonObject;
  if (obj.server_name !== expectedServer) return 'server_name does not match';
  if (typeof obj.valid_until_ts !== 'number' || !Number.isInteger(obj.valid_until_ts)) return 'valid_until_ts missing';
  if (!isObject(obj.verify_keys)) return 'verify_keys missing';
  const validUntilTs = effectiveValidUntilTs(obj.valid_until_ts, fetchedAtMs);
  const keys = new Map<string, VerifyKey>();
  for (const [id, entry] of Object.entries(obj.verify_keys)) {
    const key = isObject(entry) && typeof entry.key === 'string' ? tryDecodeBase64(entry.key) : undefined;
    if (!parseKeyId(id) || !key) return `bad verify key ${id}`;
    keys.set(id, { key, validUntilTs });
  }
  let signedBySelf = false;
  for (const id of signatureKeyIds(obj, expectedServer)) {
    const k = keys.get(id);
    if (!k) continue; // signatures by keys it does not list (e.g. a notary's) are not ours to check here
    if (!verifyJsonSignature(obj, expectedServer, id, k.key)) return `bad signature by ${id}`;
    signedBySelf = true;
  }
  if (!signedBySelf) return 'not signed by the server itself';
  if (obj.old_verify_keys !== undefined) {
    if (!isObject(obj.old_verify_keys)) return 'old_verify_keys is not an object';
    for (const [id, entry] of Object.entries(obj.old_verify_keys)) {
      const key = isObject(entry) && typeof entry.key === 'string' ? tryDecodeBase64(entry.key) : undefined;
      const expiredTs = isObject(entry) ? entry.expired_ts : undefined;
      if (!parseKeyId(id) || !key || typeof expiredTs !== 'number') return `bad old verify key ${id}`;
      if (!keys.has(id)) keys.set(id, { key, expiredTs });
    }
  }
  return keys;
}
