/**
 * The seams other areas plug into (federation first): E2EE semantics stay here, transport there.
 *
 * - `onDeviceListChanged` runs after the commit that changed a LOCAL user's device keys, device
 *   list or cross-signing keys: federation turns it into m.device_list_update /
 *   m.signing_key_update EDUs to servers sharing a room with the user.
 * - `remote` answers /keys/query and /keys/claim for users on other servers and forwards
 *   to-device messages to them. Without it (no federation), remote servers are reported in
 *   `failures` and remote to-device messages are dropped.
 */
import type { WriteTx } from '../../storage/db.ts';

export interface DeviceListChange {
  userId: string;
  /** Devices added, changed or removed (empty for a cross-signing-only change). */
  deviceIds: string[];
  /** The devices were deleted. */
  deleted: boolean;
  /** The user's cross-signing keys changed. */
  crossSigning: boolean;
  /**
   * Position of this change in the device list stream (set by DeviceListsService.record):
   * increases with every change, usable as m.device_list_update's stream_id / prev_id.
   */
  streamId?: number;
}

/** Keys of remote users, in the /keys/query response shape of one server. */
export interface RemoteQueryResult {
  device_keys?: Record<string, Record<string, unknown>>;
  master_keys?: Record<string, unknown>;
  self_signing_keys?: Record<string, unknown>;
}

export interface RemoteE2ee {
  /**
   * Device and cross-signing keys of users on `server` (device lists: empty = all devices).
   * `requester`: the local user asking (signatures they made over these keys are theirs to see).
   */
  queryKeys(server: string, query: Record<string, string[]>, timeoutMs: number, requester?: string): Promise<RemoteQueryResult>;
  /** One-time keys claimed on `server`: user → device → algorithm. */
  claimKeys(
    server: string,
    query: Record<string, Record<string, string>>,
    timeoutMs: number,
  ): Promise<Record<string, Record<string, Record<string, unknown>>>>;
  /**
   * Queues to-device messages for `server` inside the sender's transaction (so a retried
   * /sendToDevice with the same txn ID never sends twice): user → device (or `*`) → content.
   */
  queueToDevice(
    tx: WriteTx,
    server: string,
    sender: string,
    type: string,
    messageId: string,
    messages: Record<string, Record<string, unknown>>,
  ): Promise<void>;
}

export interface E2eeHooks {
  onDeviceListChanged: Array<(change: DeviceListChange) => void>;
  remote: RemoteE2ee | null;
}

export function newE2eeHooks(): E2eeHooks {
  return { onDeviceListChanged: [], remote: null };
}
