/**
 * The /sync response under construction (sync.yaml). Sections are created on first use so an
 * empty response is cheap to detect; `toJSON()` fills in the shapes clients expect.
 */
import type { JsonObject } from '../../protocol/pdu-types.ts';

export interface JoinedRoomSection {
  timeline: { events: JsonObject[]; limited: boolean; prev_batch: string };
  state: { events: JsonObject[] };
  ephemeral: { events: JsonObject[] };
  account_data: { events: JsonObject[] };
  unread_notifications?: { notification_count: number; highlight_count: number };
  unread_thread_notifications?: Record<string, { notification_count: number; highlight_count: number }>;
  summary?: JsonObject;
}

export interface LeftRoomSection {
  timeline: { events: JsonObject[]; limited: boolean; prev_batch: string };
  state: { events: JsonObject[] };
  account_data: { events: JsonObject[] };
}

export class SyncResponse {
  next_batch = '';
  readonly join = new Map<string, JoinedRoomSection>();
  readonly invite = new Map<string, { invite_state: { events: JsonObject[] } }>();
  readonly knock = new Map<string, { knock_state: { events: JsonObject[] } }>();
  readonly leave = new Map<string, LeftRoomSection>();
  readonly accountData: JsonObject[] = [];
  readonly presence: JsonObject[] = [];
  readonly toDevice: JsonObject[] = [];
  readonly deviceLists = { changed: [] as string[], left: [] as string[] };
  /** Top-level keys set by sources that are not changes (e.g. device_one_time_keys_count). */
  readonly extra: JsonObject = {};

  joinRoom(roomId: string, prevBatch: string): JoinedRoomSection {
    let r = this.join.get(roomId);
    if (!r) {
      r = {
        timeline: { events: [], limited: false, prev_batch: prevBatch },
        state: { events: [] },
        ephemeral: { events: [] },
        account_data: { events: [] },
      };
      this.join.set(roomId, r);
    }
    return r;
  }

  leaveRoom(roomId: string, prevBatch: string): LeftRoomSection {
    let r = this.leave.get(roomId);
    if (!r) {
      r = { timeline: { events: [], limited: false, prev_batch: prevBatch }, state: { events: [] }, account_data: { events: [] } };
      this.leave.set(roomId, r);
    }
    return r;
  }

  /** Whether anything that should end a long-poll is in here. */
  hasChanges(): boolean {
    return (
      this.join.size > 0 ||
      this.invite.size > 0 ||
      this.knock.size > 0 ||
      this.leave.size > 0 ||
      this.accountData.length > 0 ||
      this.presence.length > 0 ||
      this.toDevice.length > 0 ||
      this.deviceLists.changed.length > 0 ||
      this.deviceLists.left.length > 0
    );
  }

  toJSON(): JsonObject {
    const out: JsonObject = {
      next_batch: this.next_batch,
      rooms: {
        join: Object.fromEntries(this.join) as unknown as JsonObject,
        invite: Object.fromEntries(this.invite) as unknown as JsonObject,
        knock: Object.fromEntries(this.knock) as unknown as JsonObject,
        leave: Object.fromEntries(this.leave) as unknown as JsonObject,
      },
      account_data: { events: this.accountData },
      presence: { events: this.presence },
      to_device: { events: this.toDevice },
      device_lists: this.deviceLists,
    };
    Object.assign(out, this.extra);
    return out;
  }
}
