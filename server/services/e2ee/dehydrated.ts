/**
 * Dehydrated devices (MSC3814; not yet in the spec, served under its unstable prefix): a user
 * keeps one offline device whose private keys are stored encrypted (`device_data`) on the
 * server. Other users encrypt to it like any device; a new login of the user "rehydrates" it
 * and reads the to-device messages (room keys) it received while nobody was logged in.
 *
 * The device is an ordinary row in `devices` with ordinary keys, so /keys/query, /keys/claim
 * and to-device delivery need nothing special; replacing or deleting it goes through the
 * devices service, whose hooks clear its keys and inbox and tell contacts its list changed.
 */
import { DehydratedDevicesStore } from '../../storage/dehydrated-devices-store.ts';
import { DevicesStore } from '../../storage/devices-store.ts';
import { MatrixError, badJson, missingParam, notFound } from '../../http/errors.ts';
import type { WriteTx } from '../../storage/db.ts';
import type { DeviceHooks } from '../devices.ts';
import type { E2eeContext } from './context.ts';
import type { KeysService } from './keys.ts';
import type { ToDeviceService, ToDeviceEvent } from './to-device.ts';
import { isObject } from './key-objects.ts';

/** What deleting a device needs (DevicesService.deleteInTx: tokens, rows and the onDeleted hooks). */
export interface DeviceDeleter {
  deleteInTx(tx: WriteTx, userId: string, deviceIds: string[]): Promise<string[]>;
}

export class DehydratedDevicesService {
  readonly store: DehydratedDevicesStore;
  private readonly devices: DevicesStore;

  constructor(
    private readonly ctx: E2eeContext,
    private readonly keys: KeysService,
    private readonly toDevice: ToDeviceService,
    private readonly deviceHooks: DeviceHooks,
    private readonly deleter: () => DeviceDeleter | undefined,
  ) {
    this.store = new DehydratedDevicesStore(ctx.db);
    this.devices = new DevicesStore(ctx.db);
  }

  /** PUT /dehydrated_device: replaces the user's dehydrated device; returns its device ID. */
  async put(userId: string, body: Record<string, unknown>): Promise<string> {
    const deviceId = body.device_id;
    if (deviceId === undefined) throw missingParam('Missing device_id');
    if (typeof deviceId !== 'string' || deviceId.length === 0 || deviceId.length > 255) throw badJson('device_id must be a string');
    if (body.device_data === undefined) throw missingParam('Missing device_data');
    if (!isObject(body.device_data)) throw badJson('device_data must be an object');
    const name = body.initial_device_display_name;
    if (name !== undefined && name !== null && typeof name !== 'string') throw badJson('initial_device_display_name must be a string');
    const current = await this.store.get(userId);
    // A device ID already used by a real (logged-in) device cannot become the dehydrated one.
    if (current?.device_id !== deviceId && (await this.devices.get(userId, deviceId))) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'This device ID is already in use');
    }
    const prepared = await this.keys.prepareUpload(
      userId,
      deviceId,
      { device_keys: body.device_keys, one_time_keys: body.one_time_keys, fallback_keys: body.fallback_keys },
      { requireDeviceKeys: true },
    );
    const deleter = this.deleter();
    if (!deleter) throw new MatrixError(500, 'M_UNKNOWN', 'Device management is not available');
    const data = JSON.stringify(body.device_data);
    await this.ctx.db.write(async (tx) => {
      const old = await this.store.get(userId, tx);
      if (old) await deleter.deleteInTx(tx, userId, [old.device_id]);
      if (await this.devices.ensure(tx, userId, deviceId, (name as string | undefined) ?? 'Dehydrated device', this.ctx.now())) {
        for (const hook of this.deviceHooks.onCreated) await hook(tx, userId, deviceId);
      }
      await this.store.put(tx, userId, deviceId, data, this.ctx.now());
      await this.keys.applyUpload(tx, prepared);
    });
    return deviceId;
  }

  /** GET /dehydrated_device. */
  async get(userId: string): Promise<{ device_id: string; device_data: unknown }> {
    const row = await this.store.get(userId);
    if (!row) throw notFound('No dehydrated device');
    return { device_id: row.device_id, device_data: JSON.parse(row.device_data) as unknown };
  }

  /** DELETE /dehydrated_device: returns the deleted device's ID. */
  async delete(userId: string): Promise<string> {
    const deleter = this.deleter();
    if (!deleter) throw new MatrixError(500, 'M_UNKNOWN', 'Device management is not available');
    return this.ctx.db.write(async (tx) => {
      const row = await this.store.get(userId, tx);
      if (!row) throw notFound('No dehydrated device');
      await deleter.deleteInTx(tx, userId, [row.device_id]);
      await this.store.deleteIfAmong(tx, userId, [row.device_id]);
      return row.device_id;
    });
  }

  /**
   * POST /dehydrated_device/{deviceId}/events: the device's to-device messages after
   * `next_batch` (those up to it are acknowledged and deleted), at most 100 at a time.
   */
  async events(userId: string, deviceId: string, nextBatch: unknown): Promise<{ events: ToDeviceEvent[]; next_batch: string }> {
    const row = await this.store.get(userId);
    if (!row || row.device_id !== deviceId) throw notFound('No such dehydrated device');
    let since = 0;
    if (nextBatch !== undefined && nextBatch !== null) {
      if (typeof nextBatch !== 'string' || !/^\d{1,15}$/.test(nextBatch)) throw badJson('Invalid next_batch');
      since = Number(nextBatch);
    }
    const r = await this.toDevice.forSync(userId, deviceId, since > 0 ? since : null, this.toDevice.stream.current);
    return { events: r.events, next_batch: String(r.position) };
  }
}
