/**
 * Remote users' device lists and to-device messages from other servers (server-server-api
 * "Device Management", "End-to-End Encryption", "Send-to-device messaging").
 *
 * The cache: for a remote user we share a room with, the first /keys/query fetches their list
 * with GET /user/devices (which carries the `stream_id` EDUs continue from) and keeps it; later
 * queries are answered locally while m.device_list_update EDUs keep it fresh. An EDU applies
 * when every prev_id is at or below the stream_id we hold (the sender's IDs grow per user);
 * otherwise an update was lost and the list is refetched. A membership change that may have
 * interrupted the flow of EDUs (the user joined or left a room with us, or one of our users
 * joined a room with them) marks the copy stale too. Users we share no room with are queried on
 * their server each time (POST /user/keys/query): no EDUs would keep a copy fresh.
 *
 * Every applied change is also a row in the E2EE area's device list stream, so local clients
 * see the remote user in /sync `device_lists.changed` and fetch the keys again.
 */
import type { Logger } from '../../logging.ts';
import type { Database, WriteTx } from '../../storage/db.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { canonicalJson } from '../../protocol/canonical-json.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import type { FederationDevicesStore, RemoteDeviceRow } from '../../storage/federation-devices-store.ts';
import type { E2eeService } from '../e2ee/index.ts';
import type { RemoteQueryResult } from '../e2ee/hooks.ts';
import { checkCrossSigningKey, checkDeviceKeys, signedByKey } from '../e2ee/key-objects.ts';
import type { CrossSigningKeyType } from '../../storage/cross-signing-store.ts';
import type { FederationClient } from './client.ts';
import { KeyedLock } from './keyed-lock.ts';

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Parallel /user/devices fetches per query. */
const RESYNC_PARALLEL = 8;
/** Seen to-device message IDs are kept a week (senders retry for far less). */
const SEEN_MESSAGES_MS = 7 * 86_400_000;
/** At most this many (user, device) messages per m.direct_to_device EDU are delivered. */
const MAX_TO_DEVICE_TARGETS = 10_000;

export interface RemoteDevicesDeps {
  db: Database;
  store: FederationDevicesStore;
  e2ee: E2eeService;
  client: FederationClient;
  log: Logger;
  now: () => number;
  serverName: () => string;
  /** A local user's device IDs (to-device `*` and existence checks). */
  localDevices: (userId: string) => Promise<string[]>;
}

interface Snapshot {
  streamId: number;
  devices: Array<{ deviceId: string; keyJson: string | null; displayName: string | null }>;
  crossSigning: Array<{ type: CrossSigningKeyType; publicKey: string; json: string }>;
}

function canonical(v: unknown): string | null {
  try {
    return canonicalJson(v);
  } catch {
    return null;
  }
}

/** Device keys as the origin sent them, if they are well-formed and self-signed. */
function validDeviceKeys(keys: unknown, userId: string, deviceId: string): string | null {
  if (!isObject(keys) || !checkDeviceKeys(keys, userId, deviceId).ok) return null;
  const { unsigned: _u, ...signed } = keys;
  return canonical(signed);
}

/** The master key and a self-signing key it signed (either may be absent). */
function validCrossSigning(userId: string, master: unknown, ssk: unknown, storedMaster?: string): Snapshot['crossSigning'] {
  const out: Snapshot['crossSigning'] = [];
  let masterPub = storedMaster;
  if (master !== undefined) {
    const m = checkCrossSigningKey(master, 'master_key', userId, 'master');
    const json = m.ok ? canonical(master) : null;
    if (m.ok && json) {
      out.push({ type: 'master', publicKey: m.value.publicKey, json });
      masterPub = m.value.publicKey;
    }
  }
  if (ssk !== undefined && masterPub) {
    const c = checkCrossSigningKey(ssk, 'self_signing_key', userId, 'self_signing');
    const json = c.ok ? canonical(ssk) : null;
    if (c.ok && json && signedByKey(ssk as Record<string, unknown>, userId, masterPub)) out.push({ type: 'self_signing', publicKey: c.value.publicKey, json });
  }
  return out;
}

export class RemoteDeviceLists {
  private readonly lock = new KeyedLock();
  private lastPrune = 0;

  constructor(private readonly d: RemoteDevicesDeps) {}

  private get me(): string {
    return this.d.serverName();
  }

  // --- /keys/query for remote users (the E2EE area's remote hook) -------------------------------

  async queryKeys(server: string, query: Record<string, string[]>, timeoutMs: number, requester?: string): Promise<RemoteQueryResult> {
    const users = Object.keys(query).filter((u) => serverNameOf(u) === server);
    const lists = await this.d.store.lists(users);
    const cached: string[] = [];
    const refetch: string[] = [];
    const direct: Record<string, string[]> = {};
    for (const u of users) {
      if (!(await this.d.store.sharesRoomWithLocal(u, this.me))) direct[u] = query[u]!;
      else if (lists.has(u) && !lists.get(u)!.stale) cached.push(u);
      else refetch.push(u);
    }
    for (let i = 0; i < refetch.length; i += RESYNC_PARALLEL) {
      await Promise.all(
        refetch.slice(i, i + RESYNC_PARALLEL).map(async (u) => {
          try {
            await this.lock.run(u, () => this.resync(u, server, timeoutMs));
            cached.push(u);
          } catch (e) {
            // A stale copy beats nothing while the origin is unreachable; with none, ask directly.
            if (lists.has(u)) cached.push(u);
            else direct[u] = query[u]!;
            this.d.log.info({ userId: u, err: (e as Error).message }, 'device list fetch failed');
          }
        }),
      );
    }
    const result: Required<RemoteQueryResult> = { device_keys: {}, master_keys: {}, self_signing_keys: {} };
    if (Object.keys(direct).length) {
      let r: RemoteQueryResult;
      try {
        r = await this.d.client.request<RemoteQueryResult>(server, 'POST', '/_matrix/federation/v1/user/keys/query', { body: { device_keys: direct }, timeoutMs });
      } catch (e) {
        // The hook can only fail a server as a whole: that is right when nothing was answered
        // locally; otherwise the cached users are answered and the others left out.
        if (cached.length === 0) throw e;
        this.d.log.info({ server, err: (e as Error).message }, '/user/keys/query failed; answering cached users only');
        r = {};
      }
      for (const u of Object.keys(direct)) {
        if (isObject(r.device_keys?.[u])) result.device_keys[u] = r.device_keys![u]!;
        if (isObject(r.master_keys?.[u])) result.master_keys[u] = r.master_keys![u];
        if (isObject(r.self_signing_keys?.[u])) result.self_signing_keys[u] = r.self_signing_keys![u];
      }
    }
    if (cached.length) this.fromCache(cached, query, await this.d.store.devices(cached), result);
    if (cached.length) {
      for (const k of await this.d.e2ee.crossSigning.store.keysOfUsers(cached, ['master', 'self_signing'])) {
        (k.key_type === 'master' ? result.master_keys : result.self_signing_keys)[k.user_id] = JSON.parse(k.key_json) as unknown;
      }
    }
    if (requester) await this.addOwnSignatures(requester, result);
    return result;
  }

  /**
   * The requester's own signatures over remote master keys (their user-signing key verified
   * that user) are stored here, not on the remote server: only they may see them.
   */
  private async addOwnSignatures(requester: string, result: Required<RemoteQueryResult>): Promise<void> {
    const users = Object.keys(result.master_keys);
    if (users.length === 0) return;
    for (const sig of await this.d.e2ee.crossSigning.store.visibleSignatures(requester, users)) {
      if (sig.signer_user_id !== requester) continue;
      const master = result.master_keys[sig.target_user_id];
      if (!isObject(master) || !isObject(master.keys) || master.keys[`ed25519:${sig.target_key_id}`] !== sig.target_key_id) continue;
      const sigs = isObject(master.signatures) ? master.signatures : (master.signatures = {});
      const mine = isObject(sigs[requester]) ? (sigs[requester] as JsonObject) : (sigs[requester] = {});
      mine[sig.signer_key_id] = sig.signature;
    }
  }

  private fromCache(users: string[], query: Record<string, string[]>, rows: RemoteDeviceRow[], out: Required<RemoteQueryResult>): void {
    for (const u of users) out.device_keys[u] = {};
    for (const r of rows) {
      const wanted = query[r.user_id];
      if (!r.key_json || (wanted && wanted.length > 0 && !wanted.includes(r.device_id))) continue;
      const keys = JSON.parse(r.key_json) as JsonObject;
      keys.unsigned = r.display_name !== null ? { device_display_name: r.display_name } : {};
      out.device_keys[r.user_id]![r.device_id] = keys;
    }
  }

  /** GET /user/devices: replaces the cached list; local clients hear of any difference. */
  async resync(userId: string, server: string, timeoutMs = 10_000): Promise<void> {
    const r = await this.d.client.request<JsonObject>(server, 'GET', `/_matrix/federation/v1/user/devices/${encodeURIComponent(userId)}`, { timeoutMs });
    if (r.user_id !== userId || typeof r.stream_id !== 'number' || !Number.isSafeInteger(r.stream_id) || !Array.isArray(r.devices)) {
      throw new Error(`${server} sent a malformed device list for ${userId}`);
    }
    const snap: Snapshot = { streamId: r.stream_id, devices: [], crossSigning: [] };
    const seen = new Set<string>();
    for (const d of r.devices.slice(0, 10_000)) {
      if (!isObject(d) || typeof d.device_id !== 'string' || seen.has(d.device_id)) continue;
      seen.add(d.device_id);
      snap.devices.push({
        deviceId: d.device_id,
        keyJson: validDeviceKeys(d.keys, userId, d.device_id),
        displayName: typeof d.device_display_name === 'string' ? d.device_display_name : null,
      });
    }
    snap.crossSigning = validCrossSigning(userId, r.master_key, r.self_signing_key);
    await this.d.db.write(async (tx) => {
      const before = await this.d.store.listTx(tx, userId);
      const oldDevices = new Map((await this.d.store.devicesTx(tx, userId)).map((x) => [x.device_id, x.key_json]));
      await this.d.store.replaceList(tx, userId, server, snap.streamId, snap.devices, this.d.now());
      const csChanged = await this.storeCrossSigning(tx, userId, snap.crossSigning);
      if (!before) return; // a first fetch: whoever asked gets it in the answer
      const changed = new Set<string>();
      for (const dv of snap.devices) if (oldDevices.get(dv.deviceId) !== dv.keyJson) changed.add(dv.deviceId);
      for (const id of oldDevices.keys()) if (!seen.has(id)) changed.add(id);
      if (changed.size || csChanged) await this.d.e2ee.deviceLists.record(tx, { userId, deviceIds: [...changed], deleted: false, crossSigning: csChanged });
    });
  }

  private async storeCrossSigning(tx: WriteTx, userId: string, keys: Snapshot['crossSigning']): Promise<boolean> {
    if (keys.length === 0) return false;
    const store = this.d.e2ee.crossSigning.store;
    const existing = await store.keysOf(userId, tx);
    let changed = false;
    for (const k of keys) {
      if (existing.get(k.type)?.key_json === k.json) continue;
      await store.put(tx, userId, k.type, k.publicKey, k.json, this.d.now());
      changed = true;
    }
    return changed;
  }

  private refetchLater(userId: string, server: string): void {
    void this.lock.run(userId, () => this.resync(userId, server)).catch((e: unknown) => {
      this.d.log.info({ userId, err: (e as Error).message }, 'device list refetch failed; the next key query retries');
    });
  }

  // --- EDUs -------------------------------------------------------------------------------------

  async onDeviceListUpdate(origin: string, c: JsonObject): Promise<void> {
    const userId = c.user_id;
    const deviceId = c.device_id;
    const streamId = c.stream_id;
    if (typeof userId !== 'string' || serverNameOf(userId) !== origin || typeof deviceId !== 'string') return;
    if (typeof streamId !== 'number' || !Number.isSafeInteger(streamId)) return;
    const prevIds = Array.isArray(c.prev_id) ? c.prev_id.filter((p): p is number => typeof p === 'number') : [];
    const deleted = c.deleted === true;
    await this.lock.run(userId, async () => {
      // Updates about users we share no room with are none of our business.
      if (!(await this.d.store.sharesRoomWithLocal(userId, this.me))) return;
      const list = (await this.d.store.lists([userId])).get(userId);
      if (!list) {
        // Not cached: local clients re-query, which fetches the list.
        await this.d.db.write((tx) => this.d.e2ee.deviceLists.record(tx, { userId, deviceIds: [deviceId], deleted, crossSigning: false }));
        return;
      }
      if (list.stale) return this.refetchLater(userId, origin);
      if (streamId <= list.stream_id) return; // already applied (a retry, or part of the snapshot)
      // An empty prev_id starts a new sequence: whatever came before may be missing.
      if (prevIds.length === 0 || prevIds.some((p) => p > list.stream_id)) {
        this.d.log.info({ userId, streamId, prevIds, have: list.stream_id }, 'gap in device list updates; refetching');
        await this.d.db.write((tx) => this.d.store.markStale(tx, [userId]));
        return this.refetchLater(userId, origin);
      }
      const keyJson = deleted ? null : validDeviceKeys(c.keys, userId, deviceId);
      if (!deleted && c.keys !== undefined && keyJson === null) {
        this.d.log.info({ userId, deviceId }, 'device list update with invalid keys; refetching');
        return this.refetchLater(userId, origin);
      }
      const name = typeof c.device_display_name === 'string' ? c.device_display_name : null;
      await this.d.db.write(async (tx) => {
        await this.d.store.applyUpdate(tx, userId, deviceId, deleted, keyJson, name, streamId);
        await this.d.e2ee.deviceLists.record(tx, { userId, deviceIds: [deviceId], deleted, crossSigning: false });
      });
    });
  }

  async onSigningKeyUpdate(origin: string, c: JsonObject): Promise<void> {
    const userId = c.user_id;
    if (typeof userId !== 'string' || serverNameOf(userId) !== origin) return;
    await this.lock.run(userId, async () => {
      if (!(await this.d.store.sharesRoomWithLocal(userId, this.me))) return;
      const stored = (await this.d.e2ee.crossSigning.store.keysOf(userId)).get('master')?.public_key;
      const keys = validCrossSigning(userId, c.master_key, c.self_signing_key, stored);
      await this.d.db.write(async (tx) => {
        // Even with nothing storable, local clients should look again.
        await this.storeCrossSigning(tx, userId, keys);
        await this.d.e2ee.deviceLists.record(tx, { userId, deviceIds: [], deleted: false, crossSigning: true });
      });
    });
  }

  /** m.direct_to_device: delivered to local devices once per (origin, message_id). */
  async onToDevice(origin: string, c: JsonObject): Promise<void> {
    const sender = c.sender;
    const type = c.type;
    if (typeof sender !== 'string' || serverNameOf(sender) !== origin || typeof type !== 'string' || !isObject(c.messages)) return;
    const messageId = typeof c.message_id === 'string' && c.message_id.length <= 256 ? c.message_id : null;
    const msgs: Array<{ userId: string; deviceId: string; content: string }> = [];
    for (const [userId, perDevice] of Object.entries(c.messages)) {
      if (serverNameOf(userId) !== this.me || !isObject(perDevice)) continue;
      const devices = await this.d.localDevices(userId);
      const explicit = new Set(Object.keys(perDevice));
      for (const [deviceId, content] of Object.entries(perDevice)) {
        if (!isObject(content)) continue;
        const targets = deviceId === '*' ? devices.filter((x) => !explicit.has(x)) : devices.includes(deviceId) ? [deviceId] : [];
        for (const t of targets) if (msgs.length < MAX_TO_DEVICE_TARGETS) msgs.push({ userId, deviceId: t, content: JSON.stringify(content) });
      }
    }
    if (msgs.length === 0) return;
    const now = this.d.now();
    const prune = now - this.lastPrune > 3600_000;
    if (prune) this.lastPrune = now;
    await this.d.db.write(async (tx) => {
      if (prune) await this.d.store.pruneMessages(tx, now - SEEN_MESSAGES_MS);
      if (messageId !== null && !(await this.d.store.claimMessage(tx, origin, messageId, now))) return;
      await this.d.e2ee.toDevice.deliverInTx(tx, sender, type, msgs);
    });
  }
}
