/**
 * Devices: created at login/registration, listed, renamed and deleted by their owner.
 * Spec: client-server-api "Device management" and "Relationship between access tokens and
 * devices". Other areas observe device changes through `s.deviceHooks` (the E2EE engine deletes
 * a removed device's keys in the same transaction).
 */
import { randomInt } from 'node:crypto';
import type { WriteTx } from '../storage/db.ts';
import { DevicesStore, type DeviceRow } from '../storage/devices-store.ts';
import type { Services } from './container.ts';
import type { IssuedTokens } from './tokens.ts';

/** Hooks run inside the write transaction that changes the devices: use only `tx`, never other awaits. */
export interface DeviceHooks {
  onCreated: Array<(tx: WriteTx, userId: string, deviceId: string) => Promise<void>>;
  onDeleted: Array<(tx: WriteTx, userId: string, deviceIds: string[]) => Promise<void>>;
}

export function newDeviceHooks(): DeviceHooks {
  return { onCreated: [], onDeleted: [] };
}

const DEVICE_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function generateDeviceId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += DEVICE_ID_ALPHABET[randomInt(DEVICE_ID_ALPHABET.length)];
  return id;
}

/** How often a device's last_seen is written at most (it is an approximation by spec). */
const LAST_SEEN_INTERVAL_MS = 5 * 60_000;

export interface Session extends IssuedTokens {
  userId: string;
  deviceId: string;
}

export class DevicesService {
  readonly store: DevicesStore;
  private lastSeen = new Map<string, number>();

  constructor(private readonly s: Services) {
    this.store = new DevicesStore(s.db);
  }

  /**
   * Logs a device in inside the caller's transaction: creates the device if new (running the
   * onCreated hooks), otherwise invalidates the tokens it already had (spec: the server may
   * invalidate any access token previously associated with that device), then issues tokens.
   */
  async startSession(
    tx: WriteTx,
    userId: string,
    o: { deviceId?: string | null; displayName?: string | null; refreshable: boolean },
  ): Promise<Session> {
    const deviceId = o.deviceId || generateDeviceId();
    const created = await this.store.ensure(tx, userId, deviceId, o.displayName ?? null, this.s.now());
    if (created) {
      for (const hook of this.s.deviceHooks.onCreated) await hook(tx, userId, deviceId);
    } else {
      await this.s.tokens.revokeDeviceTokens(tx, userId, deviceId);
    }
    const issued = await this.s.tokens.issue(tx, userId, deviceId, o.refreshable);
    return { userId, deviceId, ...issued };
  }

  list(userId: string): Promise<DeviceRow[]> {
    return this.store.list(userId);
  }

  get(userId: string, deviceId: string): Promise<DeviceRow | undefined> {
    return this.store.get(userId, deviceId);
  }

  rename(userId: string, deviceId: string, displayName: string | null): Promise<boolean> {
    return this.s.db.write((tx) => this.store.rename(tx, userId, deviceId, displayName));
  }

  /** Deletes devices (and their tokens) inside a transaction; returns the IDs that existed. */
  async deleteInTx(tx: WriteTx, userId: string, deviceIds: string[]): Promise<string[]> {
    await this.s.tokens.evictDevicesAfterCommit(tx, userId, deviceIds);
    const deleted = await this.store.delete(tx, userId, deviceIds);
    if (deleted.length) for (const hook of this.s.deviceHooks.onDeleted) await hook(tx, userId, deleted);
    return deleted;
  }

  /** Deletes every device of a user except `keep` (null: all) inside a transaction. */
  async deleteAllInTx(tx: WriteTx, userId: string, keep: string | null): Promise<string[]> {
    return this.deleteInTx(tx, userId, await this.store.idsExcept(tx, userId, keep));
  }

  delete(userId: string, deviceIds: string[]): Promise<string[]> {
    return this.s.db.write((tx) => this.deleteInTx(tx, userId, deviceIds));
  }

  /** Records that a device was used (at most every few minutes per device; fire and forget). */
  touch(userId: string, deviceId: string, ip: string | null, userAgent: string | null = null): void {
    const key = `${userId}|${deviceId}`;
    const now = this.s.now();
    const last = this.lastSeen.get(key);
    if (last !== undefined && now - last < LAST_SEEN_INTERVAL_MS) return;
    if (this.lastSeen.size > 50_000) this.lastSeen.clear();
    this.lastSeen.set(key, now);
    this.store.touch(userId, deviceId, now, ip, userAgent ? userAgent.slice(0, 512) : null).catch((err) => this.s.log.warn({ err }, 'updating device last_seen failed'));
  }
}
