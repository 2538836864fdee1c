/**
 * Cross-signing (end_to_end_encryption.md "Cross-signing"; cross_signing.yaml):
 * /keys/device_signing/upload stores the master, self-signing and user-signing public keys;
 * /keys/signatures/upload adds signatures over devices and master keys; /keys/query shows them
 * subject to the visibility rules in cross-signing-store.ts.
 */
import { canonicalJson } from '../../protocol/canonical-json.ts';
import { CrossSigningStore, type CrossSigningKeyRow, type CrossSigningKeyType, type SignatureRow } from '../../storage/cross-signing-store.ts';
import { E2eKeysStore } from '../../storage/e2e-keys-store.ts';
import { MatrixError, badJson } from '../../http/errors.ts';
import type { E2eeContext } from './context.ts';
import type { DeviceListsService } from './device-lists.ts';
import { checkCrossSigningKey, isObject, signedByKey, signedPart, type CrossSigningUsage } from './key-objects.ts';
import { verifyJsonSignature } from '../../protocol/signing.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';

const FIELDS: Array<[string, CrossSigningUsage]> = [
  ['master_key', 'master'],
  ['self_signing_key', 'self_signing'],
  ['user_signing_key', 'user_signing'],
];

export interface ParsedCrossSigningUpload {
  keys: Array<{ type: CrossSigningKeyType; publicKey: string; obj: Record<string, unknown>; json: string }>;
}

interface QueryShape {
  device_keys: Record<string, Record<string, unknown>>;
  master_keys: Record<string, unknown>;
  self_signing_keys: Record<string, unknown>;
  user_signing_keys: Record<string, unknown>;
}

type Failure = { errcode: string; error: string };

function canonical(value: unknown): string {
  try {
    return canonicalJson(value);
  } catch {
    throw badJson('key is not valid canonical JSON');
  }
}

export class CrossSigningService {
  readonly store: CrossSigningStore;
  private readonly deviceKeys: E2eKeysStore;

  constructor(
    private readonly ctx: E2eeContext,
    private readonly deviceLists: DeviceListsService,
  ) {
    this.store = new CrossSigningStore(ctx.db);
    this.deviceKeys = new E2eKeysStore(ctx.db);
  }

  /** Validates the shape of an upload (before UIA, so bad requests fail fast). */
  parseUpload(userId: string, body: Record<string, unknown>): ParsedCrossSigningUpload {
    const keys: ParsedCrossSigningUpload['keys'] = [];
    for (const [field, usage] of FIELDS) {
      const obj = body[field];
      if (obj === undefined || obj === null) continue;
      const c = checkCrossSigningKey(obj, field, userId, usage);
      if (!c.ok) throw new MatrixError(400, c.errcode, c.error);
      keys.push({ type: usage, publicKey: c.value.publicKey, obj: obj as Record<string, unknown>, json: canonical(obj) });
    }
    return { keys };
  }

  /**
   * cross_signing.yaml (since v1.11): UIA is required unless the user has no master key yet, or
   * the request only repeats keys already stored (an idempotent retry). Like Synapse, a retry
   * that repeats only some of the stored keys also needs no UIA: it changes nothing.
   */
  async needsUia(userId: string, upload: ParsedCrossSigningUpload): Promise<boolean> {
    const existing = await this.store.keysOf(userId);
    if (!existing.has('master')) return false;
    return upload.keys.some((k) => existing.get(k.type)?.key_json !== k.json);
  }

  /** Stores the keys after checking signatures and collisions (cross_signing.yaml 400/403 cases). */
  async upload(userId: string, upload: ParsedCrossSigningUpload): Promise<void> {
    const existing = await this.store.keysOf(userId);
    const master = upload.keys.find((k) => k.type === 'master')?.publicKey ?? existing.get('master')?.public_key;
    if (!master) throw new MatrixError(400, 'M_MISSING_PARAM', 'No master signing key is available');
    for (const k of upload.keys) {
      // "Must be signed by the accompanying master signing key, or by the user's most recently uploaded master signing key".
      if (k.type !== 'master' && !signedByKey(k.obj, userId, master)) {
        throw new MatrixError(400, 'M_INVALID_SIGNATURE', `The ${k.type} key is not signed by the master key`);
      }
      // "Servers must ensure that device IDs will not collide with cross-signing public keys."
      if (await this.deviceKeys.deviceIdExists(userId, k.publicKey)) {
        throw new MatrixError(403, 'M_FORBIDDEN', 'Key ID in use: a device has this ID');
      }
    }
    const changed = upload.keys.filter((k) => existing.get(k.type)?.key_json !== k.json);
    if (changed.length === 0) return;
    await this.ctx.db.write(async (tx) => {
      for (const k of changed) await this.store.put(tx, userId, k.type, k.publicKey, k.json, this.ctx.now());
      await this.deviceLists.record(tx, { userId, deviceIds: [], deleted: false, crossSigning: true });
    });
  }

  /**
   * POST /keys/signatures/upload: `body` is user → key ID → signed object. Own devices must be
   * signed by the requester's self-signing key, the requester's master key by one of their
   * devices, other users' master keys by the requester's user-signing key. Returns failures.
   */
  async uploadSignatures(requester: string, body: Record<string, unknown>): Promise<Record<string, Record<string, Failure>>> {
    const failures: Record<string, Record<string, Failure>> = {};
    const fail = (u: string, k: string, errcode: string, error: string) => ((failures[u] ??= {})[k] = { errcode, error });
    const own = await this.store.keysOf(requester);
    const toStore: SignatureRow[] = [];
    const ownDevicesSigned: string[] = [];
    let ownMasterSigned = false;
    const othersSigned: string[] = [];

    for (const [userId, perKey] of Object.entries(body)) {
      if (!isObject(perKey)) {
        fail(userId, '*', 'M_BAD_JSON', 'Expected a map of key ID to signed object');
        continue;
      }
      const theirs = userId === requester ? own : await this.store.keysOf(userId);
      for (const [keyId, obj] of Object.entries(perKey)) {
        if (!isObject(obj) || !isObject(obj.signatures) || !isObject(obj.signatures[requester])) {
          fail(userId, keyId, 'M_INVALID_SIGNATURE', `No signature by ${requester}`);
          continue;
        }
        const newSigs = obj.signatures[requester] as Record<string, unknown>;
        const result = await this.checkSignedObject(requester, userId, keyId, obj, newSigs, own, theirs);
        if ('errcode' in result) {
          fail(userId, keyId, result.errcode, result.error);
          continue;
        }
        toStore.push(...result.rows);
        if (result.rows.length === 0) continue;
        if (userId !== requester) othersSigned.push(userId);
        else if (keyId === own.get('master')?.public_key) ownMasterSigned = true;
        else ownDevicesSigned.push(keyId);
      }
    }
    if (toStore.length) {
      await this.ctx.db.write(async (tx) => {
        await this.store.addSignatures(tx, toStore);
        if (ownDevicesSigned.length || ownMasterSigned) {
          await this.deviceLists.record(tx, { userId: requester, deviceIds: ownDevicesSigned, deleted: false, crossSigning: ownMasterSigned });
        }
        await this.deviceLists.recordPrivate(tx, requester, othersSigned);
      });
    }
    return failures;
  }

  private async checkSignedObject(
    requester: string,
    userId: string,
    keyId: string,
    obj: Record<string, unknown>,
    newSigs: Record<string, unknown>,
    own: Map<CrossSigningKeyType, CrossSigningKeyRow>,
    theirs: Map<CrossSigningKeyType, CrossSigningKeyRow>,
  ): Promise<{ rows: SignatureRow[] } | Failure> {
    // What the signature must cover: the stored key or device, exactly (cross_signing.yaml:
    // "The signed JSON object must match the key previously uploaded … with the exception of the
    // signatures property").
    let stored: Record<string, unknown> | undefined;
    let signerKey: (sigKeyId: string) => string | undefined;
    const master = theirs.get('master');
    if (master && keyId === master.public_key) {
      stored = JSON.parse(master.key_json) as Record<string, unknown>;
      if (userId === requester) {
        // Own master key: signed by one of the user's own devices.
        const devices = new Map<string, string>();
        for (const sigKeyId of Object.keys(newSigs)) {
          const dev = sigKeyId.startsWith('ed25519:') ? await this.deviceKeys.getDevice(requester, sigKeyId.slice(8)) : undefined;
          if (dev) devices.set(sigKeyId, dev.ed25519);
        }
        signerKey = (k) => devices.get(k);
      } else {
        // Another user's master key: signed by the requester's user-signing key.
        const usk = own.get('user_signing')?.public_key;
        signerKey = (k) => (usk && k === `ed25519:${usk}` ? usk : undefined);
      }
    } else if (userId === requester) {
      const dev = await this.deviceKeys.getDevice(requester, keyId);
      if (!dev) return { errcode: 'M_NOT_FOUND', error: 'Unknown device or key' };
      stored = JSON.parse(dev.key_json) as Record<string, unknown>;
      const ssk = own.get('self_signing')?.public_key;
      signerKey = (k) => (ssk && k === `ed25519:${ssk}` ? ssk : undefined);
    } else {
      return { errcode: 'M_NOT_FOUND', error: "Only another user's master key can be signed" };
    }
    if (canonicalJson(signedPart(stored)) !== safeCanonical(signedPart(obj))) {
      return { errcode: 'M_INVALID_SIGNATURE', error: 'The signed object does not match the stored key' };
    }
    const already = isObject(stored.signatures) && isObject(stored.signatures[requester]) ? stored.signatures[requester] : {};
    const rows: SignatureRow[] = [];
    for (const [sigKeyId, sig] of Object.entries(newSigs)) {
      if (already[sigKeyId] === sig) continue; // the object's own existing signature, nothing new
      const pub = signerKey(sigKeyId);
      if (!pub || typeof sig !== 'string') return { errcode: 'M_INVALID_SIGNATURE', error: `${sigKeyId} may not sign this key` };
      const onlyThis = { ...obj, signatures: { [requester]: { [sigKeyId]: sig } } };
      if (!verifyJsonSignature(onlyThis as JsonObject, requester, sigKeyId, pub)) {
        return { errcode: 'M_INVALID_SIGNATURE', error: 'Invalid signature' };
      }
      rows.push({ signer_user_id: requester, signer_key_id: sigKeyId, target_user_id: userId, target_key_id: keyId, signature: sig });
    }
    return { rows };
  }

  /** Adds cross-signing keys and the signatures `requester` may see to a /keys/query result. */
  async addToQuery(requester: string, users: string[], result: QueryShape): Promise<void> {
    const types: CrossSigningKeyType[] = ['master', 'self_signing'];
    const rows = await this.store.keysOfUsers(users, types);
    // keys.yaml: user_signing_keys only "if they queried their own device information".
    if (users.includes(requester)) {
      const usk = (await this.store.keysOf(requester)).get('user_signing');
      if (usk) rows.push(usk);
    }
    const masterByUser = new Map<string, string>();
    for (const r of rows) {
      const obj = JSON.parse(r.key_json) as Record<string, unknown>;
      if (r.key_type === 'master') {
        result.master_keys[r.user_id] = obj;
        masterByUser.set(r.user_id, r.public_key);
      } else if (r.key_type === 'self_signing') result.self_signing_keys[r.user_id] = obj;
      else result.user_signing_keys[r.user_id] = obj;
    }
    for (const sig of await this.store.visibleSignatures(requester, users)) {
      let target: unknown;
      if (masterByUser.get(sig.target_user_id) === sig.target_key_id) target = result.master_keys[sig.target_user_id];
      else target = result.device_keys[sig.target_user_id]?.[sig.target_key_id];
      if (!isObject(target)) continue;
      const sigs = isObject(target.signatures) ? target.signatures : (target.signatures = {});
      const bySigner = isObject(sigs[sig.signer_user_id]) ? (sigs[sig.signer_user_id] as Record<string, unknown>) : (sigs[sig.signer_user_id] = {});
      (bySigner as Record<string, unknown>)[sig.signer_key_id] = sig.signature;
    }
  }
}

function safeCanonical(v: unknown): string | undefined {
  try {
    return canonicalJson(v);
  } catch {
    return undefined;
  }
}
