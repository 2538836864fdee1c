/**
 * Sync stream sources: every stream besides room events registers one (account data, receipts,
 * typing, presence here; to-device, device lists and key counts from the E2EE area).
 *
 * A source has a token key (letters, unique), a current position, and `collect`, which adds its
 * changes in (from, to] to the response (from = null on an initial sync or for a source the
 * client's token does not know yet). It returns true if it added something that should end a
 * long-poll; data that is always present (e.g. one-time key counts) returns false.
 * To wake a waiting /sync, call `notifier.notifyUser(userId)` after the change is visible.
 */
import type { SyncResponse } from './response.ts';
import type { FilterDefinition } from './filter.ts';

export interface SyncSourceContext {
  userId: string;
  deviceId: string | null;
  filter: FilterDefinition;
  fullState: boolean;
  /** Rooms the user is joined to at this response's upper bound (room filter applied). */
  joinedRooms: ReadonlySet<string>;
  /** Joined rooms the client hears about for the first time in this response. */
  newlyJoined: ReadonlySet<string>;
  response: SyncResponse;
  /** The request's whole since token (null on an initial sync) and this response's upper bounds (E2EE reads other streams' positions). */
  sinceToken: ReadonlyMap<string, number> | null;
  toToken: ReadonlyMap<string, number>;
  /** A source that delivered only part of (from, to] (e.g. to-device's 100-message cap) puts a lower next_batch position here. */
  lowerNextBatch(key: string, pos: number): void;
}

export interface SyncSource {
  readonly key: string;
  current(): number;
  collect(ctx: SyncSourceContext, from: number | null, to: number): Promise<boolean>;
}
