/**
 * device_one_time_keys_count and device_unused_fallback_key_types, which every /sync of a device
 * carries even when nothing changed ("Extensions to /sync"): kept in memory per device, so a sync
 * that finds them unchanged asks no query. Every write that changes a device's one-time or
 * fallback keys (upload, claim, device deletion) calls `changed` from `tx.afterCommit`.
 */
import { BoundedMap } from '../sync/change-cache.ts';

export interface KeyCounts {
  counts: Readonly<Record<string, number>>;
  fallback: readonly string[];
}

/** Devices remembered (a few hundred bytes each); the least recently synced fall out. */
const CAPACITY = 10_000;

export class KeyCountsCache {
  private readonly map = new BoundedMap<string, KeyCounts>(CAPACITY);
  /** Bumped by every change, so a read that raced a commit is not cached. */
  private gen = 0;

  async get(userId: string, deviceId: string, load: () => Promise<KeyCounts>): Promise<KeyCounts> {
    const key = keyOf(userId, deviceId);
    const hit = this.map.get(key);
    if (hit) return hit;
    const gen = this.gen;
    const v = await load();
    if (gen === this.gen) this.map.set(key, v);
    return v;
  }

  /** A committed write changed the device's one-time or fallback keys. */
  changed(userId: string, deviceId: string): void {
    this.gen++;
    this.map.delete(keyOf(userId, deviceId));
  }
}

/** Unambiguous for any strings (device IDs are arbitrary). */
function keyOf(userId: string, deviceId: string): string {
  return `${userId.length}:${userId}${deviceId}`;
}
