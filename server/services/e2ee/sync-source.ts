/**
 * The E2EE streams of /sync, registered with the rooms area's SyncService (sync/sources.ts):
 *
 * - `d` to-device: the inbox position. A response carries at most 100 messages; when it is cut
 *   short, next_batch gets the position of the last message sent, so nothing is acknowledged
 *   (deleted) before it was delivered.
 * - `l` device lists: `device_lists.changed/left` on incremental syncs, computed from the device
 *   list stream and membership changes between the two tokens' events positions; and the
 *   always-present `device_one_time_keys_count` / `device_unused_fallback_key_types`.
 */
import type { SyncSource, SyncSourceContext } from '../sync/sources.ts';
import { EVENTS_KEY } from '../sync/token.ts';
import type { E2eeService } from './index.ts';
import type { SyncService } from '../sync/sync-service.ts';
import type { Notifier } from '../notifier.ts';

export const TO_DEVICE_KEY = 'd';
export const DEVICE_LISTS_KEY = 'l';

export function toDeviceSyncSource(e2ee: E2eeService): SyncSource {
  return {
    key: TO_DEVICE_KEY,
    current: () => e2ee.toDevice.stream.current,
    async collect(ctx: SyncSourceContext, from: number | null, to: number): Promise<boolean> {
      if (!ctx.deviceId) return false;
      // The request's own position, even on a full_state sync: what it carried was delivered.
      const since = ctx.sinceToken?.get(TO_DEVICE_KEY) ?? from;
      const r = await e2ee.toDevice.forSync(ctx.userId, ctx.deviceId, since ?? null, to);
      for (const ev of r.events) ctx.response.toDevice.push(ev as never);
      if (r.position < to) ctx.lowerNextBatch(TO_DEVICE_KEY, r.position);
      return r.events.length > 0;
    },
  };
}

/**
 * `membershipChangedSince(user, pos)`: false only when no membership event after `pos` concerns
 * the user (SyncService.membershipChangedSince); lets a sync skip the membership queries.
 */
export function deviceListsSyncSource(e2ee: E2eeService, membershipChangedSince?: (userId: string, pos: number) => Promise<boolean>): SyncSource {
  return {
    key: DEVICE_LISTS_KEY,
    current: () => e2ee.deviceLists.stream.current,
    async collect(ctx: SyncSourceContext, from: number | null, to: number): Promise<boolean> {
      let changed = false;
      const sinceLists = ctx.sinceToken?.get(DEVICE_LISTS_KEY) ?? from;
      const sinceEvents = ctx.sinceToken?.get(EVENTS_KEY);
      const toEvents = ctx.toToken.get(EVENTS_KEY);
      // Spec: device_lists is "only present on an incremental sync".
      if (sinceLists !== null && sinceLists !== undefined && sinceEvents !== undefined && toEvents !== undefined) {
        let fromEvents = Math.min(sinceEvents, toEvents);
        // No membership change concerns the user: the events window has nothing for device_lists.
        if (fromEvents < toEvents && membershipChangedSince && !(await membershipChangedSince(ctx.userId, fromEvents))) fromEvents = toEvents;
        const delta = await e2ee.deviceLists.delta(
          ctx.userId,
          { deviceLists: Math.min(sinceLists, to), events: fromEvents },
          { deviceLists: to, events: toEvents },
        );
        ctx.response.deviceLists.changed.push(...delta.changed);
        ctx.response.deviceLists.left.push(...delta.left);
        changed = delta.changed.length > 0 || delta.left.length > 0;
      }
      if (ctx.deviceId) {
        const k = await e2ee.keys.syncCounts(ctx.userId, ctx.deviceId);
        ctx.response.extra.device_one_time_keys_count = k.counts;
        ctx.response.extra.device_unused_fallback_key_types = [...k.fallback];
      }
      return changed;
    },
  };
}

/** Registers the E2EE streams with /sync and connects long-poll wake-ups (called once at startup). */
export function installE2eeSync(
  e2ee: E2eeService,
  rooms: { sync: SyncService; notifier: Notifier; roomCore: { eventStream: { current: number } } },
): void {
  e2ee.connectRooms({ wake: (users) => rooms.notifier.notifyUsers(users), eventsPosition: () => rooms.roomCore.eventStream.current });
  rooms.sync.registerSource(toDeviceSyncSource(e2ee));
  rooms.sync.registerSource(deviceListsSyncSource(e2ee, (userId, pos) => rooms.sync.membershipChangedSince(userId, pos)));
}
