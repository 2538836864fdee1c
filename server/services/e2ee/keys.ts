/**
 * Device keys, one-time keys and fallback keys: /keys/upload, /keys/query, /keys/claim
 * (keys.yaml; end_to_end_encryption.md "Key distribution").
 */
import { canonicalJson } from '../../protocol/canonical-json.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import { E2eKeysStore } from '../../storage/e2e-keys-store.ts';
import { OneTimeKeysStore, type NewKey } from '../../storage/one-time-keys-store.ts';
import { MatrixError, badJson } from '../../http/errors.ts';
import type { E2eeContext } from './context.ts';
import type { RemoteE2ee } from './hooks.ts';
import type { WriteTx } from '../../storage/db.ts';
import type { DeviceListsService } from './device-lists.ts';
import type { CrossSigningService } from './cross-signing.ts';
import { checkDeviceKeys, checkOneTimeKeys, isObject, type ParsedOneTimeKey } from './key-objects.ts';
import { KeyCountsCache, type KeyCounts } from './key-counts.ts';

export interface UploadRequest {
  device_keys?: unknown;
  one_time_keys?: unknown;
  fallback_keys?: unknown;
}

/** A checked /keys/upload, ready to write. */
export interface PreparedUpload {
  userId: string;
  deviceId: string;
  newDevice: { ed25519: string; json: string } | null;
  ed25519: string | undefined;
  otks: NewKey[];
  fallbacks: NewKey[];
}

export interface QueryResult {
  device_keys: Record<string, Record<string, unknown>>;
  master_keys: Record<string, unknown>;
  self_signing_keys: Record<string, unknown>;
  user_signing_keys: Record<string, unknown>;
  failures: Record<string, unknown>;
}

export interface ClaimResult {
  one_time_keys: Record<string, Record<string, Record<string, unknown>>>;
  failures: Record<string, unknown>;
}

/** The algorithm Olm uses; always reported in counts (clients read a missing one as 0 anyway). */
export const SIGNED_CURVE25519 = 'signed_curve25519';

const REMOTE_TIMEOUT_DEFAULT_MS = 10_000;
const REMOTE_TIMEOUT_MAX_MS = 30_000;

function invalid(errcode: string, error: string): MatrixError {
  return new MatrixError(400, errcode, error);
}

function canonical(value: unknown, what: string): string {
  try {
    return canonicalJson(value);
  } catch {
    throw badJson(`${what} is not valid canonical JSON`);
  }
}

export class KeysService {
  readonly deviceKeys: E2eKeysStore;
  readonly oneTimeKeys: OneTimeKeysStore;
  /** One-time key counts and unused fallback types per device, for /sync. */
  readonly countsCache = new KeyCountsCache();

  constructor(
    private readonly ctx: E2eeContext,
    private readonly deviceLists: DeviceListsService,
    private readonly crossSigning: CrossSigningService,
  ) {
    this.deviceKeys = new E2eKeysStore(ctx.db);
    this.oneTimeKeys = new OneTimeKeysStore(ctx.db);
  }

  /** POST /keys/upload. Returns one_time_key_counts after the upload. */
  async upload(userId: string, deviceId: string, req: UploadRequest): Promise<Record<string, number>> {
    const prepared = await this.prepareUpload(userId, deviceId, req);
    return this.ctx.db.write((tx) => this.applyUpload(tx, prepared));
  }

  /** Checks an upload (shapes, owner, signatures) before anything is written. */
  async prepareUpload(userId: string, deviceId: string, req: UploadRequest, opts: { requireDeviceKeys?: boolean } = {}): Promise<PreparedUpload> {
    let newDevice: { ed25519: string; json: string } | null = null;
    if (req.device_keys !== undefined && req.device_keys !== null) {
      const c = checkDeviceKeys(req.device_keys, userId, deviceId);
      if (!c.ok) throw invalid(c.errcode, c.error);
      newDevice = { ed25519: c.value.ed25519, json: canonical(req.device_keys, 'device_keys') };
    } else if (opts.requireDeviceKeys) {
      throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing device_keys');
    }
    const stored = newDevice ? undefined : await this.deviceKeys.getDevice(userId, deviceId);
    const ed25519 = newDevice?.ed25519 ?? stored?.ed25519;

    const otks = this.parseKeys(req.one_time_keys, 'one_time_keys', userId, deviceId, ed25519);
    const fallbacks = this.parseKeys(req.fallback_keys, 'fallback_keys', userId, deviceId, ed25519);
    const perAlgorithm = new Set<string>();
    for (const f of fallbacks) {
      // keys.yaml: "There can only be at most one key per algorithm uploaded".
      if (perAlgorithm.has(f.algorithm)) throw invalid('M_INVALID_PARAM', `fallback_keys: more than one ${f.algorithm} key`);
      perAlgorithm.add(f.algorithm);
    }
    return { userId, deviceId, newDevice, ed25519, otks, fallbacks };
  }

  /** Writes a checked upload inside the caller's transaction; returns one_time_key_counts. */
  async applyUpload(tx: WriteTx, p: PreparedUpload): Promise<Record<string, number>> {
    const { userId, deviceId, newDevice, ed25519, otks, fallbacks } = p;
    if (newDevice) {
      const changed = await this.deviceKeys.put(tx, userId, deviceId, newDevice.ed25519, newDevice.json, this.ctx.now());
      if (changed) {
        // Signatures over the device's previous keys no longer apply to it.
        await this.crossSigning.store.deleteForTargets(tx, userId, [deviceId]);
        await this.deviceLists.record(tx, { userId, deviceIds: [deviceId], deleted: false, crossSigning: false });
      }
    } else if (ed25519 !== undefined && (otks.length || fallbacks.length)) {
      // The keys were verified against the stored device key read before this transaction.
      const now = await this.deviceKeys.getDeviceTx(tx, userId, deviceId);
      if (now?.ed25519 !== ed25519) throw new MatrixError(409, 'M_UNKNOWN', 'Device keys changed during the upload; retry');
    }
    if (otks.length) {
      const existing = await this.oneTimeKeys.existing(tx, userId, deviceId, [...new Set(otks.map((k) => k.keyId))]);
      const byId = new Map(existing.map((k) => [`${k.algorithm}:${k.keyId}`, k.json]));
      for (const k of otks) {
        const old = byId.get(`${k.algorithm}:${k.keyId}`);
        // Synapse's rule: re-uploading the same key is fine, a different key under a used ID is not.
        if (old !== undefined && old !== k.json) {
          throw invalid('M_INVALID_PARAM', `One-time key ${k.algorithm}:${k.keyId} already exists with different content`);
        }
      }
      await this.oneTimeKeys.add(tx, userId, deviceId, otks);
    }
    for (const f of fallbacks) await this.oneTimeKeys.setFallback(tx, userId, deviceId, f);
    if (otks.length || fallbacks.length) tx.afterCommit(() => this.countsCache.changed(userId, deviceId));
    return withDefaultCount(await this.oneTimeKeys.counts(userId, deviceId, tx));
  }

  private parseKeys(map: unknown, field: string, userId: string, deviceId: string, ed25519: string | undefined): NewKey[] {
    if (map === undefined || map === null) return [];
    const c = checkOneTimeKeys(map, field, userId, deviceId, ed25519);
    if (!c.ok) throw invalid(c.errcode, c.error);
    return c.value.map((k: ParsedOneTimeKey) => ({ algorithm: k.algorithm, keyId: k.keyId, json: canonical(k.value, field) }));
  }

  /** device_one_time_keys_count for /sync. */
  async counts(userId: string, deviceId: string): Promise<Record<string, number>> {
    return withDefaultCount(await this.oneTimeKeys.counts(userId, deviceId));
  }

  unusedFallbackTypes(userId: string, deviceId: string): Promise<string[]> {
    return this.oneTimeKeys.unusedFallbackTypes(userId, deviceId);
  }

  /** Both of the above for /sync, from memory unless the device's keys changed since last asked. */
  syncCounts(userId: string, deviceId: string): Promise<KeyCounts> {
    return this.countsCache.get(userId, deviceId, async () => {
      const [counts, fallback] = await Promise.all([this.counts(userId, deviceId), this.unusedFallbackTypes(userId, deviceId)]);
      return { counts, fallback };
    });
  }

  /**
   * POST /keys/query for `requester`. `query`: user → device IDs (empty = all devices).
   * Unknown users and devices are simply absent; unreachable servers go to `failures`.
   * Federation (/user/keys/query) passes only local users and requester '' (a remote server
   * sees only the signatures users made over their own keys, never user-signing keys).
   */
  async query(requester: string, query: Record<string, string[]>, timeoutMs = REMOTE_TIMEOUT_DEFAULT_MS): Promise<QueryResult> {
    const result: QueryResult = { device_keys: {}, master_keys: {}, self_signing_keys: {}, user_signing_keys: {}, failures: {} };
    const local = new Map<string, string[] | null>();
    const remote = new Map<string, Record<string, string[]>>();
    for (const [userId, devices] of Object.entries(query)) {
      const server = serverNameOf(userId);
      if (!server) continue;
      if (this.ctx.isLocalUser(userId)) {
        local.set(userId, devices.length === 0 ? null : devices);
        result.device_keys[userId] = {};
      } else {
        let q = remote.get(server);
        if (!q) remote.set(server, (q = {}));
        q[userId] = devices;
      }
    }
    const remoteDone = this.queryRemote(remote, timeoutMs, result, requester);
    if (local.size) {
      for (const row of await this.deviceKeys.query(local)) {
        const keys = JSON.parse(row.key_json) as Record<string, unknown>;
        // keys.yaml: the device information "with the addition of an unsigned property".
        keys.unsigned = row.display_name !== null ? { device_display_name: row.display_name } : {};
        result.device_keys[row.user_id]![row.device_id] = keys;
      }
      await this.crossSigning.addToQuery(requester, [...local.keys()], result);
    }
    await remoteDone;
    return result;
  }

  private queryRemote(remote: Map<string, Record<string, string[]>>, timeoutMs: number, result: QueryResult, requester: string): Promise<void> {
    const timeout = clampTimeout(timeoutMs);
    return this.askRemotes(remote, result.failures, async (r, server, q) => {
      const answer = await r.queryKeys(server, q, timeout, requester);
      for (const [u, devices] of Object.entries(answer.device_keys ?? {})) if (u in q) result.device_keys[u] = devices;
      for (const [u, k] of Object.entries(answer.master_keys ?? {})) if (u in q) result.master_keys[u] = k;
      for (const [u, k] of Object.entries(answer.self_signing_keys ?? {})) if (u in q) result.self_signing_keys[u] = k;
    });
  }

  /**
   * POST /keys/claim. All local claims happen in one write transaction: each one-time key is
   * deleted as it is handed out, so concurrent claims can never receive the same key. With no
   * one-time key left, the fallback key is returned (and flagged used, not deleted).
   */
  async claim(query: Record<string, Record<string, string>>, timeoutMs = REMOTE_TIMEOUT_DEFAULT_MS): Promise<ClaimResult> {
    const result: ClaimResult = { one_time_keys: {}, failures: {} };
    const local: Array<[string, string, string]> = [];
    const remote = new Map<string, Record<string, Record<string, string>>>();
    for (const [userId, devices] of Object.entries(query)) {
      const server = serverNameOf(userId);
      if (!server) continue;
      if (this.ctx.isLocalUser(userId)) {
        for (const [deviceId, algorithm] of Object.entries(devices)) local.push([userId, deviceId, algorithm]);
      } else {
        let q = remote.get(server);
        if (!q) remote.set(server, (q = {}));
        q[userId] = devices;
      }
    }
    const remoteDone = this.claimRemote(remote, timeoutMs, result);
    if (local.length) {
      const claimed = await this.ctx.db.write(async (tx) => {
        const out: Array<[string, string, string, string, string]> = [];
        for (const [userId, deviceId, algorithm] of local) {
          const key =
            (await this.oneTimeKeys.claimOne(tx, userId, deviceId, algorithm)) ??
            (await this.oneTimeKeys.claimFallback(tx, userId, deviceId, algorithm));
          if (key) out.push([userId, deviceId, algorithm, key.key_id, key.key_json]);
        }
        tx.afterCommit(() => {
          for (const [userId, deviceId] of out) this.countsCache.changed(userId, deviceId);
        });
        return out;
      });
      for (const [userId, deviceId, algorithm, keyId, json] of claimed) {
        const user = (result.one_time_keys[userId] ??= {});
        user[deviceId] = { [`${algorithm}:${keyId}`]: JSON.parse(json) as unknown };
      }
    }
    await remoteDone;
    return result;
  }

  private claimRemote(remote: Map<string, Record<string, Record<string, string>>>, timeoutMs: number, result: ClaimResult): Promise<void> {
    const timeout = clampTimeout(timeoutMs);
    return this.askRemotes(remote, result.failures, async (r, server, q) => {
      const answer = await r.claimKeys(server, q, timeout);
      for (const [u, devices] of Object.entries(answer)) if (u in q && isObject(devices)) result.one_time_keys[u] = devices;
    });
  }

  /**
   * Asks every server its part of a /keys/query or /keys/claim at once. A server that cannot be
   * asked (no federation) or does not answer goes to the response's `failures` (keys.yaml: "If
   * any remote homeservers could not be reached, they are recorded here").
   */
  private async askRemotes<Q>(
    remote: Map<string, Q>,
    failures: Record<string, unknown>,
    ask: (r: RemoteE2ee, server: string, q: Q) => Promise<void>,
  ): Promise<void> {
    const r = this.ctx.hooks.remote;
    await Promise.all(
      [...remote].map(async ([server, q]) => {
        if (!r) {
          failures[server] = { status: 503, message: 'Federation is not available' };
          return;
        }
        try {
          await ask(r, server, q);
        } catch (err) {
          failures[server] = { status: 503, message: err instanceof Error ? err.message : 'unreachable' };
        }
      }),
    );
  }
}

function withDefaultCount(counts: Record<string, number>): Record<string, number> {
  return { [SIGNED_CURVE25519]: 0, ...counts };
}

function clampTimeout(ms: number): number {
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, REMOTE_TIMEOUT_MAX_MS) : REMOTE_TIMEOUT_DEFAULT_MS;
}
