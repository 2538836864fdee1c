/**
 * Our users' device list changes, sent to the servers sharing a room with them
 * (server-server-api "Device Management", "End-to-End Encryption"):
 *
 * - each device row of the E2EE area's device list stream becomes an m.device_list_update whose
 *   `stream_id` is the row's position (monotonic per user, as receivers expect) and whose
 *   `prev_id` is the previous EDU sent for that user — one prev_id, since we emit "in series";
 * - cross-signing rows become m.signing_key_update (master and self-signing keys; the
 *   user-signing key is private);
 * - the EDUs and the new sequence position are queued in one write job, so a crash cannot send
 *   an EDU twice or lose one; rows left unsent by a crash go out at the next start.
 *
 * Device display names are not sent (like Synapse's default: other servers' users have no need
 * to see what someone calls their phone).
 */
import type { Logger } from '../../logging.ts';
import type { Database } from '../../storage/db.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import type { FederationDevicesStore } from '../../storage/federation-devices-store.ts';
import type { E2eeService } from '../e2ee/index.ts';
import type { FederationSender, Edu } from './sender.ts';
import { KeyedLock } from './keyed-lock.ts';

export interface DeviceListSenderDeps {
  db: Database;
  store: FederationDevicesStore;
  e2ee: E2eeService;
  sender: FederationSender;
  log: Logger;
  serverName: () => string;
  /** Servers (not us) sharing a joined room with a local user. */
  serversOf: (userId: string) => Promise<string[]>;
  /** The user's current device IDs (a device without keys still exists). */
  deviceIds: (userId: string) => Promise<string[]>;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export class DeviceListSender {
  private readonly lock = new KeyedLock();

  constructor(private readonly d: DeviceListSenderDeps) {}

  /**
   * The stream_id GET /user/devices reports: the last EDU sent for the user, so the next EDU's
   * prev_id equals it exactly (what Synapse checks); 0 before any.
   */
  async streamIdFor(userId: string): Promise<number> {
    return (await this.d.store.outbound(userId))?.last_edu_id ?? 0;
  }

  /** Sends what a crash left unsent. */
  async start(): Promise<void> {
    for (const userId of await this.d.store.pendingLocalUsers(this.d.serverName())) this.changed(userId);
  }

  /** A local user's device list or cross-signing keys changed (E2EE hook, after commit). */
  changed(userId: string): void {
    void this.lock
      .run(userId, () => this.flush(userId))
      .catch((e: unknown) => this.d.log.warn({ err: e, userId }, 'could not queue device list EDUs'));
  }

  /** Turns the user's unsent device list rows into EDUs (serialised per user). */
  async flush(userId: string): Promise<void> {
    const out = await this.d.store.outbound(userId);
    const rows = await this.d.store.changesAfter(userId, out?.last_stream_id ?? 0);
    if (rows.length === 0) return;
    const last = rows[rows.length - 1]!.stream_id;
    // One EDU per device (its latest row); the sequence follows row order.
    const latest = new Map<string, number>();
    let crossSigning = false;
    for (const r of rows) {
      if (r.device_id === null) crossSigning = true;
      else latest.set(r.device_id, r.stream_id);
    }
    const servers = await this.d.serversOf(userId);
    const edus: Edu[] = [];
    let prev = out?.last_edu_id ?? null;
    if (servers.length > 0) {
      const keys = await this.d.e2ee.keys.query(userId, { [userId]: latest.size ? [...latest.keys()] : [] });
      if (crossSigning) {
        const content: JsonObject = { user_id: userId };
        const master = keys.master_keys[userId];
        const ssk = keys.self_signing_keys[userId];
        if (isObject(master)) content.master_key = master;
        if (isObject(ssk)) content.self_signing_key = ssk;
        edus.push({ edu_type: 'm.signing_key_update', content });
      }
      const devices = (keys.device_keys[userId] ?? {}) as Record<string, JsonObject>;
      const existing = new Set(await this.d.deviceIds(userId));
      for (const [deviceId, streamId] of [...latest].sort((a, b) => a[1] - b[1])) {
        const k = devices[deviceId];
        const content: JsonObject = { user_id: userId, device_id: deviceId, stream_id: streamId, prev_id: prev === null ? [] : [prev], deleted: !existing.has(deviceId) };
        if (k && existing.has(deviceId)) {
          const { unsigned: _u, ...signedKeys } = k;
          content.keys = signedKeys;
        }
        edus.push({ edu_type: 'm.device_list_update', content });
        prev = streamId;
      }
    } else if (latest.size) {
      // Nobody to tell now; a server that joins later sees a prev_id it does not know and refetches.
      prev = Math.max(...latest.values());
    }
    await this.d.db.write(async (tx) => {
      for (const destination of servers) for (const edu of edus) await this.d.sender.queueEdu(tx, destination, edu, null);
      await this.d.store.setOutbound(tx, userId, last, prev);
    });
    // More rows than one batch reads: go on.
    if (rows.length >= 1000) await this.flush(userId);
  }
}
