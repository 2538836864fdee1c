/**
 * Signing keys over federation (server-server-api "Retrieving server keys"):
 * - ours: the object served at GET /_matrix/key/v2/server (current keys self-signed, retired
 *   keys under old_verify_keys);
 * - other servers': fetched directly from the origin first (GET /_matrix/key/v2/server), then
 *   through the configured notary servers (POST /_matrix/key/v2/query), verified (self-signed,
 *   and countersigned by the notary), cached in memory and in SQLite.
 *
 * Validity: a key's valid_until_ts is capped at 7 days after fetching (v5+ rooms); a key found
 * too old for what is being verified is refetched once (the server may have renewed it). Failed
 * fetches are not retried for a minute, so a dead server is not asked again for every PDU.
 */
import type { Logger } from '../../logging.ts';
import {
  makeServerKeys,
  readServerKeys,
  signJson,
  verifyJsonSignature,
  signatureKeyIds,
  type ServerKeysObject,
  type SigningKey,
  type VerifyKey,
} from '../../protocol/signing.ts';
import { encodeBase64 } from '../../protocol/base64.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import type { ServerKeysStore } from '../../storage/server-keys-store.ts';
import type { FederationClient } from './client.ts';

/** How long our published keys are valid (others refetch after this). */
export const OWN_KEY_VALIDITY_MS = 24 * 3600_000;
/** A failed fetch is not retried before this. */
const FETCH_FAILURE_TTL_MS = 60_000;
const CACHE_SERVERS = 2000;

export interface KeyRingDeps {
  serverName: () => string;
  ownKeys: () => SigningKey[];
  store: ServerKeysStore;
  client: () => FederationClient;
  /** Notary servers asked when the origin cannot be (federation_key_notaries). */
  notaries: () => string[];
  now: () => number;
  log: Logger;
}

interface CachedServer {
  keys: Map<string, VerifyKey>;
}

export class KeyRing {
  private readonly cache = new Map<string, CachedServer>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly failedUntil = new Map<string, number>();
  private ownOld: Array<{ keyId: string; publicKeyBase64: string; expiredTs: number }> = [];

  constructor(private readonly d: KeyRingDeps) {}

  async start(): Promise<void> {
    this.ownOld = (await this.d.store.ownOldKeys()).map((r) => ({ keyId: r.key_id, publicKeyBase64: r.public_key, expiredTs: r.expired_ts }));
  }

  /** The object served at GET /_matrix/key/v2/server. */
  ownServerKeys(): ServerKeysObject {
    const current = this.d.ownKeys();
    const currentIds = new Set(current.map((k) => k.keyId));
    const old = this.ownOld.filter((k) => !currentIds.has(k.keyId));
    return makeServerKeys(this.d.serverName(), current, old, this.d.now() + OWN_KEY_VALIDITY_MS);
  }

  /** Adds our signature to a JSON object (notary responses). */
  countersign<T extends JsonObject>(obj: T): T {
    const k = this.d.ownKeys()[0]!;
    return signJson(obj, this.d.serverName(), k.keyId, k.seed, { strict: false });
  }

  private ownVerifyKey(keyId: string): VerifyKey | undefined {
    const cur = this.d.ownKeys().find((k) => k.keyId === keyId);
    if (cur) return { key: cur.publicKey, validUntilTs: this.d.now() + OWN_KEY_VALIDITY_MS };
    const old = this.ownOld.find((k) => k.keyId === keyId);
    if (old) return { key: Buffer.from(old.publicKeyBase64, 'base64'), expiredTs: old.expiredTs };
    return undefined;
  }

  /**
   * The key `keyId` of `server`, fetching it if unknown or if a current key is not known to be
   * valid at `validAt` (ms; 0 = any). Undefined when it cannot be found. The caller checks the
   * key against what it verifies (isKeyValidForEvent for events, current-and-valid for requests).
   */
  async verifyKey(server: string, keyId: string, validAt = 0): Promise<VerifyKey | undefined> {
    if (server === this.d.serverName()) return this.ownVerifyKey(keyId);
    let k = await this.known(server, keyId);
    if (k && (k.expiredTs !== undefined || (k.validUntilTs ?? 0) >= validAt)) return k;
    await this.fetch(server, [keyId], validAt);
    k = await this.known(server, keyId);
    return k;
  }

  /** A key already in memory (no I/O): for synchronous checks after the async verification loaded it. */
  cachedKey(server: string, keyId: string): VerifyKey | undefined {
    if (server === this.d.serverName()) return this.ownVerifyKey(keyId);
    return this.cache.get(server)?.keys.get(keyId);
  }

  /** A key known from the cache or the database (no network). */
  private async known(server: string, keyId: string): Promise<VerifyKey | undefined> {
    let entry = this.cache.get(server);
    if (!entry) {
      const rows = await this.d.store.keysOf(server);
      entry = { keys: new Map() };
      for (const r of rows) {
        entry.keys.set(r.key_id, {
          key: Buffer.from(r.public_key, 'base64'),
          ...(r.valid_until_ts !== null && { validUntilTs: r.valid_until_ts }),
          ...(r.expired_ts !== null && { expiredTs: r.expired_ts }),
        });
      }
      this.remember(server, entry);
    }
    return entry.keys.get(keyId);
  }

  private remember(server: string, entry: CachedServer): void {
    this.cache.delete(server);
    this.cache.set(server, entry);
    if (this.cache.size > CACHE_SERVERS) this.cache.delete(this.cache.keys().next().value!);
  }

  /** Fetches `server`'s keys (deduplicated; failures remembered for a minute). */
  fetch(server: string, keyIds: string[] = [], validAt = 0): Promise<void> {
    const running = this.inflight.get(server);
    if (running) return running;
    if ((this.failedUntil.get(server) ?? 0) > this.d.now()) return Promise.resolve();
    const p = this.doFetch(server, keyIds, validAt).finally(() => this.inflight.delete(server));
    this.inflight.set(server, p);
    return p;
  }

  private async doFetch(server: string, keyIds: string[], validAt: number): Promise<void> {
    const satisfied = (keys: Map<string, VerifyKey>) =>
      keyIds.every((id) => {
        const k = keys.get(id);
        return k !== undefined && (k.expiredTs !== undefined || (k.validUntilTs ?? 0) >= validAt);
      });
    try {
      const keys = await this.fetchDirect(server);
      if (keys && satisfied(keys)) return;
    } catch (e) {
      this.d.log.debug({ server, err: (e as Error).message }, 'direct key fetch failed');
    }
    for (const notary of this.d.notaries()) {
      if (notary === server || notary === this.d.serverName()) continue;
      try {
        const keys = await this.fetchViaNotary(notary, server, keyIds, validAt);
        if (keys && satisfied(keys)) return;
      } catch (e) {
        this.d.log.debug({ server, notary, err: (e as Error).message }, 'key fetch through notary failed');
      }
    }
    this.d.log.info({ server, keyIds }, 'could not fetch signing keys');
    this.failedUntil.set(server, this.d.now() + FETCH_FAILURE_TTL_MS);
    if (this.failedUntil.size > CACHE_SERVERS) this.failedUntil.delete(this.failedUntil.keys().next().value!);
  }

  /** GET /_matrix/key/v2/server on the server itself. */
  async fetchDirect(server: string): Promise<Map<string, VerifyKey> | undefined> {
    const now = this.d.now();
    const body = await this.d.client().request<JsonObject>(server, 'GET', '/_matrix/key/v2/server', { unsigned: true, timeoutMs: 15_000, maxBytes: 256 * 1024 });
    const keys = readServerKeys(body, server, now);
    if (typeof keys === 'string') throw new Error(`bad key response from ${server}: ${keys}`);
    await this.store(server, body, keys, now);
    return keys;
  }

  /** POST /_matrix/key/v2/query on a notary: the server's own response, countersigned by the notary. */
  async fetchViaNotary(notary: string, server: string, keyIds: string[], validAt: number): Promise<Map<string, VerifyKey> | undefined> {
    const now = this.d.now();
    const criteria: JsonObject = {};
    for (const id of keyIds) criteria[id] = { minimum_valid_until_ts: validAt || now };
    const body = await this.d.client().request<{ server_keys?: unknown }>(notary, 'POST', '/_matrix/key/v2/query', {
      body: { server_keys: { [server]: criteria } },
      timeoutMs: 15_000,
      maxBytes: 1024 * 1024,
    });
    if (!Array.isArray(body.server_keys)) throw new Error(`${notary} answered without server_keys`);
    let merged: Map<string, VerifyKey> | undefined;
    for (const entry of body.server_keys as JsonObject[]) {
      if (!entry || typeof entry !== 'object' || entry.server_name !== server) continue;
      const keys = readServerKeys(entry, server, now);
      if (typeof keys === 'string') continue;
      if (!(await this.signedByNotary(entry, notary))) continue;
      await this.store(server, entry, keys, now);
      merged = new Map([...(merged ?? []), ...keys]);
    }
    return merged;
  }

  private async signedByNotary(obj: JsonObject, notary: string): Promise<boolean> {
    for (const id of signatureKeyIds(obj, notary)) {
      const k = await this.verifyKey(notary, id, this.d.now());
      if (k && verifyJsonSignature(obj, notary, id, k.key)) return true;
    }
    return false;
  }

  private async store(server: string, raw: JsonObject, keys: Map<string, VerifyKey>, now: number): Promise<void> {
    const entry: CachedServer = { keys: new Map((await this.cachedKeys(server)) ?? []) };
    for (const [id, k] of keys) {
      const prev = entry.keys.get(id);
      // A key listed as current again must not lose a newer validity; an old key's expiry sticks.
      entry.keys.set(id, {
        key: k.key,
        ...(k.validUntilTs !== undefined ? { validUntilTs: Math.max(k.validUntilTs, prev?.validUntilTs ?? 0) } : prev?.validUntilTs !== undefined && { validUntilTs: prev.validUntilTs }),
        ...(k.expiredTs !== undefined ? { expiredTs: k.expiredTs } : prev?.expiredTs !== undefined && { expiredTs: prev.expiredTs }),
      });
    }
    this.remember(server, entry);
    this.failedUntil.delete(server);
    const validUntil = typeof raw.valid_until_ts === 'number' ? raw.valid_until_ts : 0;
    await this.d.store.saveResponse(
      server,
      JSON.stringify(raw),
      validUntil,
      now,
      [...keys].map(([keyId, k]) => ({
        keyId,
        publicKey: encodeBase64(k.key),
        validUntilTs: k.validUntilTs ?? null,
        expiredTs: k.expiredTs ?? null,
      })),
    );
  }

  private async cachedKeys(server: string): Promise<Map<string, VerifyKey> | undefined> {
    await this.known(server, '');
    return this.cache.get(server)?.keys;
  }

  /**
   * For the notary endpoints: `server`'s key response valid until at least `minValidUntil`,
   * fetched from the server itself when the stored one is too old. Undefined when unreachable
   * and nothing is stored.
   */
  async responseFor(server: string, minValidUntil: number): Promise<JsonObject | undefined> {
    if (server === this.d.serverName()) return this.ownServerKeys();
    const row = await this.d.store.response(server);
    if (row && row.valid_until_ts >= minValidUntil) return JSON.parse(row.json) as JsonObject;
    try {
      await this.fetchDirect(server);
    } catch (e) {
      this.d.log.debug({ server, err: (e as Error).message }, 'notary: direct key fetch failed');
    }
    const fresh = await this.d.store.response(server);
    // Spec: notaries "can return keys for servers that are offline … by using cached responses".
    return fresh ? (JSON.parse(fresh.json) as JsonObject) : undefined;
  }

  /** Records a retired key of ours (after a rotation) so it stays listed under old_verify_keys. */
  async retireOwnKey(keyId: string, publicKeyBase64: string, expiredTs: number): Promise<void> {
    await this.d.store.addOwnOldKey(keyId, publicKeyBase64, expiredTs);
    this.ownOld = this.ownOld.filter((k) => k.keyId !== keyId).concat({ keyId, publicKeyBase64, expiredTs });
  }
}
