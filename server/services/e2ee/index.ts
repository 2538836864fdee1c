/**
 * End-to-end encryption support, as one service with five parts: device/one-time/fallback keys,
 * device list tracking, cross-signing, to-device messaging and key backup. The HTTP layer
 * (server/http/client/{keys,cross-signing,to-device,key-backup}.ts) and /sync call in here;
 * federation plugs in through `hooks` (hooks.ts) without changing these semantics.
 */
import type { WriteTx } from '../../storage/db.ts';
import { serverNameOf } from '../../protocol/identifiers.ts';
import type { Database } from '../../storage/db.ts';
import type { Logger } from '../../logging.ts';
import type { DeviceHooks } from '../devices.ts';
import type { AccountHooks } from '../auth.ts';
import type { E2eeContext } from './context.ts';
import { newE2eeHooks, type E2eeHooks } from './hooks.ts';
import { DeviceListsService, type DeviceListDelta, type DeviceListPositions } from './device-lists.ts';
import { KeysService } from './keys.ts';
import { CrossSigningService } from './cross-signing.ts';
import { ToDeviceService } from './to-device.ts';
import { KeyBackupService } from './key-backup.ts';
import { DehydratedDevicesService, type DeviceDeleter } from './dehydrated.ts';

export interface E2eeDeps {
  db: Database;
  log: Logger;
  now: () => number;
  serverName: () => string | null;
  deviceHooks: DeviceHooks;
  accountHooks?: AccountHooks;
  /** Deleting devices with their tokens and hooks (the accounts area's DevicesService). */
  devices?: () => DeviceDeleter | undefined;
}

export class E2eeService {
  readonly hooks: E2eeHooks;
  readonly dehydrated: DehydratedDevicesService;
  private waker: ((userIds: Iterable<string>) => void) | null = null;
  private eventsPos: () => number = () => 0;

  private constructor(
    readonly ctx: E2eeContext,
    readonly deviceLists: DeviceListsService,
    readonly keys: KeysService,
    readonly crossSigning: CrossSigningService,
    readonly toDevice: ToDeviceService,
    readonly backup: KeyBackupService,
    deviceHooks: DeviceHooks,
    devices: () => DeviceDeleter | undefined,
  ) {
    this.hooks = ctx.hooks;
    this.dehydrated = new DehydratedDevicesService(ctx, keys, toDevice, deviceHooks, devices);
  }

  static async create(d: E2eeDeps): Promise<E2eeService> {
    let self: E2eeService | null = null;
    const ctx: E2eeContext = {
      db: d.db,
      log: d.log,
      now: d.now,
      isLocalUser: (userId) => {
        const name = d.serverName();
        return name !== null && serverNameOf(userId) === name;
      },
      wake: (userIds) => self?.waker?.(userIds),
      hooks: newE2eeHooks(),
    };
    const deviceLists = await DeviceListsService.create(ctx);
    const crossSigning = new CrossSigningService(ctx, deviceLists);
    const keys = new KeysService(ctx, deviceLists, crossSigning);
    const toDevice = await ToDeviceService.create(ctx);
    const service = new E2eeService(ctx, deviceLists, keys, crossSigning, toDevice, new KeyBackupService(ctx), d.deviceHooks, d.devices ?? (() => undefined));
    self = service;
    d.deviceHooks.onDeleted.push((tx, userId, deviceIds) => service.onDevicesDeleted(tx, userId, deviceIds));
    d.accountHooks?.onDeactivate.push((userId) => service.onDeactivated(userId));
    return service;
  }

  /**
   * Connects the rooms area: its notifier wakes long-polling /sync, and its events stream
   * position bounds membership-driven device list changes.
   */
  connectRooms(o: { wake: (userIds: Iterable<string>) => void; eventsPosition: () => number }): void {
    this.waker = o.wake;
    this.eventsPos = o.eventsPosition;
  }

  /** The events stream's current position (0 until the rooms area is connected). */
  eventsPosition(): number {
    return this.eventsPos();
  }

  /** Current positions of the E2EE streams (events position comes from the rooms area). */
  positions(): { deviceLists: number; toDevice: number } {
    return { deviceLists: this.deviceLists.stream.current, toDevice: this.toDevice.stream.current };
  }

  /**
   * A device was deleted (logout, DELETE /devices): its keys, pending to-device messages and the
   * signatures over it go, and everyone sharing a room with the user hears of the change.
   */
  private async onDevicesDeleted(tx: WriteTx, userId: string, deviceIds: string[]): Promise<void> {
    await this.keys.deviceKeys.deleteDevices(tx, userId, deviceIds);
    tx.afterCommit(() => {
      for (const d of deviceIds) this.keys.countsCache.changed(userId, d);
    });
    await this.toDevice.store.deleteDevices(tx, userId, deviceIds);
    await this.crossSigning.store.deleteForTargets(tx, userId, deviceIds);
    await this.dehydrated.store.deleteIfAmong(tx, userId, deviceIds);
    await this.deviceLists.record(tx, { userId, deviceIds, deleted: true, crossSigning: false });
  }

  /**
   * Account deactivation (devices and their keys go through onDevicesDeleted): the key backup
   * and cross-signing keys go too, and contacts hear that the user's keys changed.
   */
  private async onDeactivated(userId: string): Promise<void> {
    await this.ctx.db.write(async (tx) => {
      await this.backup.store.deleteAllForUser(tx, userId);
      await this.crossSigning.store.deleteAllForUser(tx, userId);
      await this.deviceLists.record(tx, { userId, deviceIds: [], deleted: false, crossSigning: true });
    });
  }

  /** GET /keys/changes between two sync positions. */
  keysChanges(userId: string, from: DeviceListPositions, to: DeviceListPositions): Promise<DeviceListDelta> {
    return this.deviceLists.delta(userId, from, to);
  }
}
