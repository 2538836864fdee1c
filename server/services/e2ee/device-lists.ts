/**
 * Device list tracking (end_to_end_encryption.md "Tracking the device list for a user" and
 * "Extensions to /sync"): every change of a user's device keys or cross-signing keys is a row in
 * the device list stream; a requester hears about it (`device_lists.changed`) if they share a
 * room with that user. Membership changes add more: a user who newly shares a room with the
 * requester is `changed` (the requester's copy of their devices may be stale), and a user who
 * no longer shares any room is `left`.
 */
import { DeviceListsStore, type MembershipChange } from '../../storage/device-lists-store.ts';
import type { WriteTx } from '../../storage/db.ts';
import { StreamCounter } from '../streams.ts';
import type { E2eeContext } from './context.ts';
import type { DeviceListChange } from './hooks.ts';

/** The positions of the two streams device_lists depends on. */
export interface DeviceListPositions {
  deviceLists: number;
  /** The events stream (membership events). */
  events: number;
}

export interface DeviceListDelta {
  changed: string[];
  left: string[];
}

export class DeviceListsService {
  readonly store: DeviceListsStore;

  private constructor(
    private readonly ctx: E2eeContext,
    readonly stream: StreamCounter,
  ) {
    this.store = new DeviceListsStore(ctx.db);
  }

  static async create(ctx: E2eeContext): Promise<DeviceListsService> {
    const start = await new DeviceListsStore(ctx.db).maxStreamId();
    return new DeviceListsService(ctx, new StreamCounter(start));
  }

  /**
   * Records a change inside the caller's transaction. After the commit: the position is
   * published, everyone sharing a room with the user (and the user's own devices) is woken, and
   * for local users the federation hooks run.
   */
  async record(tx: WriteTx, change: DeviceListChange): Promise<void> {
    const rows = change.deviceIds.length
      ? change.deviceIds.map((d) => ({ userId: change.userId, deviceId: d as string | null }))
      : [{ userId: change.userId, deviceId: null }];
    const pos = await this.store.append(tx, rows, this.ctx.now());
    tx.afterCommit(() => {
      this.stream.committed(pos);
      void this.wakeInterested(change.userId);
      if (!this.ctx.isLocalUser(change.userId)) return;
      for (const hook of this.ctx.hooks.onDeviceListChanged) {
        try {
          hook({ ...change, streamId: pos });
        } catch (err) {
          this.ctx.log.warn({ err }, 'device list hook failed');
        }
      }
    });
  }

  /**
   * Records that `viewer` signed `targets`' master keys with their user-signing key: only the
   * viewer's devices hear about it (nobody else may see that signature).
   */
  async recordPrivate(tx: WriteTx, viewer: string, targets: string[]): Promise<void> {
    if (targets.length === 0) return;
    const pos = await this.store.append(
      tx,
      targets.map((t) => ({ userId: t, deviceId: null, onlyFor: viewer })),
      this.ctx.now(),
    );
    tx.afterCommit(() => {
      this.stream.committed(pos);
      this.ctx.wake([viewer]);
    });
  }

  private async wakeInterested(userId: string): Promise<void> {
    try {
      const users = await this.store.usersSharingRoomWith(userId);
      users.add(userId);
      this.ctx.wake(users);
    } catch (err) {
      this.ctx.log.warn({ err }, 'waking syncs after a device list change failed');
    }
  }

  /**
   * device_lists for `userId` between two positions. Membership changes use the spec's allowed
   * simplification: a user joining any room we are in counts as `changed` even if we already
   * shared another room with them.
   */
  async delta(userId: string, from: DeviceListPositions, to: DeviceListPositions): Promise<DeviceListDelta> {
    const deviceMoved = to.deviceLists > from.deviceLists;
    const eventsMoved = to.events > from.events;
    if (!deviceMoved && !eventsMoved) return { changed: [], left: [] };

    const candidatesChanged = new Set<string>();
    const candidatesLeft = new Set<string>();
    const direct = new Set<string>();
    if (deviceMoved) {
      const c = await this.store.changedBetween(userId, from.deviceLists, to.deviceLists);
      for (const u of c.shared) candidatesChanged.add(u);
      for (const u of c.direct) direct.add(u);
    }
    if (eventsMoved) {
      const own = await this.store.ownMembershipChanges(userId, from.events, to.events);
      const joinedRooms = new Set<string>();
      const leftRooms = new Set<string>();
      // The last membership event per room decides (join then leave in one window = left).
      for (const m of own) {
        if (m.membership === 'join') {
          joinedRooms.add(m.room_id);
          leftRooms.delete(m.room_id);
        } else {
          leftRooms.add(m.room_id);
          joinedRooms.delete(m.room_id);
        }
      }
      const rooms = [...joinedRooms, ...leftRooms];
      if (rooms.length) {
        for (const m of await this.store.joinedMembers(rooms)) {
          (joinedRooms.has(m.room_id) ? candidatesChanged : candidatesLeft).add(m.user_id);
        }
      }
      for (const m of await this.store.othersMembershipChanges(userId, from.events, to.events)) {
        if (isJoin(m)) candidatesChanged.add(m.user_id);
        else if (m.membership !== 'join') candidatesLeft.add(m.user_id);
      }
    }
    if (candidatesChanged.size === 0 && candidatesLeft.size === 0) return { changed: [...direct].sort(), left: [] };

    const sharing = await this.store.usersSharingRoomWith(userId);
    const changed: string[] = [...direct];
    const left: string[] = [];
    for (const u of candidatesChanged) if (!direct.has(u) && (u === userId || sharing.has(u))) changed.push(u);
    for (const u of candidatesLeft) if (u !== userId && !sharing.has(u)) left.push(u);
    return { changed: changed.sort(), left: left.sort() };
  }
}

/** A membership event that makes the user newly joined (a join → join profile change is not). */
function isJoin(m: MembershipChange): boolean {
  return m.membership === 'join' && m.prev_membership !== 'join';
}
