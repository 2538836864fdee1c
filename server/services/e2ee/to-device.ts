/**
 * Send-to-device messaging (send_to_device.md; to_device.yaml). Messages are queued per target
 * device in order of arrival, listed by /sync (at most 100 per response, the spec's suggested
 * limit), and deleted only when the device syncs with a `since` at or past them — so a lost
 * /sync response is simply delivered again, and an acknowledged message never is.
 */
import { randomBytes } from 'node:crypto';
import { serverNameOf } from '../../protocol/identifiers.ts';
import { ToDeviceStore, type NewToDevice } from '../../storage/to-device-store.ts';
import type { WriteTx } from '../../storage/db.ts';
import { DevicesStore } from '../../storage/devices-store.ts';
import { badJson } from '../../http/errors.ts';
import { StreamCounter } from '../streams.ts';
import type { E2eeContext } from './context.ts';
import { isObject } from './key-objects.ts';
import { BoundedMap, StreamChangeCache } from '../sync/change-cache.ts';

/** send_to_device.md: "100 messages is recommended as a reasonable limit". */
export const TO_DEVICE_SYNC_LIMIT = 100;
/** A retried /sendToDevice is recognised for this long. */
const TXN_RETENTION_MS = 24 * 60 * 60_000;
const TXN_PRUNE_EVERY_MS = 60 * 60_000;

export interface ToDeviceEvent {
  sender: string;
  type: string;
  content: unknown;
}

export interface ToDeviceSync {
  events: ToDeviceEvent[];
  /** The position to put in next_batch: everything up to it was delivered (or acknowledged). */
  position: number;
}

export class ToDeviceService {
  readonly store: ToDeviceStore;
  private readonly devices: DevicesStore;
  private lastPrune = 0;
  /** Devices whose inbox got messages, by position (written after commit). */
  private readonly arrivals: StreamChangeCache;
  /**
   * Devices whose inbox was found empty up to a position: while nothing arrives after it, a
   * /sync has nothing to acknowledge or deliver and asks no query.
   */
  private readonly emptyThrough = new BoundedMap<string, number>(10_000);

  private constructor(
    private readonly ctx: E2eeContext,
    readonly stream: StreamCounter,
  ) {
    this.store = new ToDeviceStore(ctx.db);
    this.devices = new DevicesStore(ctx.db);
    this.arrivals = new StreamChangeCache(stream.current);
  }

  static async create(ctx: E2eeContext): Promise<ToDeviceService> {
    return new ToDeviceService(ctx, new StreamCounter(await new ToDeviceStore(ctx.db).maxStreamId()));
  }

  /**
   * PUT /sendToDevice/{type}/{txnId}. `messages`: user → device ID or `*` → content. A repeated
   * txnId from the same device is acknowledged without sending again.
   */
  async send(sender: string, senderDevice: string, type: string, txnId: string, messages: unknown): Promise<void> {
    if (!isObject(messages)) throw badJson('messages must be an object');
    const local: NewToDevice[] = [];
    const remote = new Map<string, Record<string, Record<string, unknown>>>();
    for (const [userId, perDevice] of Object.entries(messages)) {
      if (!isObject(perDevice)) throw badJson(`messages.${userId} must be an object`);
      for (const [deviceId, content] of Object.entries(perDevice)) {
        if (!isObject(content)) throw badJson(`messages.${userId}.${deviceId} must be an object`);
      }
      const server = serverNameOf(userId);
      if (!server) continue;
      if (!this.ctx.isLocalUser(userId)) {
        const byUser = remote.get(server) ?? {};
        byUser[userId] = perDevice;
        remote.set(server, byUser);
        continue;
      }
      // Only devices that exist get a copy; `*` means every device the user has now.
      const known = new Set((await this.devices.list(userId)).map((d) => d.device_id));
      const wildcard = perDevice['*'];
      for (const [deviceId, content] of Object.entries(perDevice)) {
        if (deviceId === '*' || !known.has(deviceId)) continue;
        local.push({ userId, deviceId, content: JSON.stringify(content) });
      }
      if (wildcard !== undefined) {
        const explicit = new Set(Object.keys(perDevice));
        for (const deviceId of known) {
          if (!explicit.has(deviceId)) local.push({ userId, deviceId, content: JSON.stringify(wildcard) });
        }
      }
    }
    const now = this.ctx.now();
    const messageId = randomBytes(12).toString('base64url');
    const prune = now - this.lastPrune > TXN_PRUNE_EVERY_MS;
    if (prune) this.lastPrune = now;
    await this.ctx.db.write(async (tx) => {
      if (prune) await this.store.pruneTxns(tx, now - TXN_RETENTION_MS);
      if (!(await this.store.claimTxn(tx, sender, senderDevice, txnId, now))) return;
      const pos = local.length ? await this.store.enqueue(tx, sender, type, local, now) : 0;
      const r = this.ctx.hooks.remote;
      for (const [server, msgs] of remote) {
        if (r) await r.queueToDevice(tx, server, sender, type, messageId, msgs);
        else this.ctx.log.debug({ server }, 'to-device message for a remote server dropped: no federation');
      }
      if (pos) tx.afterCommit(() => this.arrived(pos, local));
    });
  }

  /**
   * Federation: delivers messages that arrived from another server to local devices (in the
   * caller's transaction; the caller de-duplicates by message ID).
   */
  async deliverInTx(tx: WriteTx, sender: string, type: string, msgs: NewToDevice[]): Promise<void> {
    if (msgs.length === 0) return;
    const pos = await this.store.enqueue(tx, sender, type, msgs, this.ctx.now());
    tx.afterCommit(() => this.arrived(pos, msgs));
  }

  /** After the commit of messages up to `pos`: publish, note which inboxes changed, wake. */
  private arrived(pos: number, msgs: NewToDevice[]): void {
    for (const m of msgs) this.arrivals.changed(inboxKey(m.userId, m.deviceId), pos);
    this.stream.committed(pos);
    this.ctx.wake(new Set(msgs.map((m) => m.userId)));
  }

  /**
   * The to_device section of /sync for one device. `since`: the to-device position of the
   * request's `since` token (null on an initial sync); `upTo`: the position the response's
   * next_batch will carry unless the limit cuts it short.
   */
  async forSync(userId: string, deviceId: string, since: number | null, upTo: number): Promise<ToDeviceSync> {
    const after = since ?? 0;
    const key = inboxKey(userId, deviceId);
    const empty = this.emptyThrough.get(key);
    // Found empty before and nothing arrived since: nothing to acknowledge or deliver.
    if (empty !== undefined && !this.arrivals.hasChangedSince(key, empty)) return { events: [], position: Math.max(upTo, after) };
    // The client is using a token that carried these messages: they were delivered.
    if (since !== null && since > 0 && (await this.store.hasUpTo(userId, deviceId, since))) {
      await this.ctx.db.write((tx) => this.store.ack(tx, userId, deviceId, since));
    }
    const rows = await this.store.pending(userId, deviceId, after, upTo, TO_DEVICE_SYNC_LIMIT);
    // Nothing at or below `since` is left and nothing in (since, upTo]: the inbox holds nothing
    // up to `upTo` (anything sent later has a higher position, and arrivals records it).
    if (rows.length === 0) this.emptyThrough.set(key, upTo);
    else this.emptyThrough.delete(key);
    const events = rows.map((r) => ({ sender: r.sender, type: r.type, content: JSON.parse(r.content) as unknown }));
    const position = rows.length === TO_DEVICE_SYNC_LIMIT ? rows[rows.length - 1]!.stream_id : Math.max(upTo, after);
    return { events, position };
  }
}

/** Unambiguous for any strings (device IDs are arbitrary). */
function inboxKey(userId: string, deviceId: string): string {
  return `${userId.length}:${userId}${deviceId}`;
}
