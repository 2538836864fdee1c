/**
 * The in-memory caches /sync relies on stay bounded and never hide a change: the stream change
 * cache answers "maybe" for anything it no longer covers, and the state and event caches drop old
 * entries by total size, not just by count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { BoundedMap, StreamChangeCache } from '../../../server/services/sync/change-cache.ts';
import { StateCache, StateSnapshot } from '../../../server/services/state/state-cache.ts';
import { StateStore } from '../../../server/storage/state-store.ts';
import { Database } from '../../../server/storage/db.ts';
import { tempDir } from '../../helpers/server.ts';
import { EventCache, type StoredEvent } from '../../../server/services/events/event-cache.ts';
import { EventsStore } from '../../../server/storage/events-store.ts';
import type { Pdu } from '../../../server/protocol/pdu-types.ts';

test('stream change cache: exact above its start, "maybe" below; eviction raises the covered floor', () => {
  const c = new StreamChangeCache(10, 3);
  assert.equal(c.hasChangedSince('a', 10), false, 'nothing changed since the start');
  assert.equal(c.hasChangedSince('a', 9), true, 'before the start: unknown, so maybe');
  assert.equal(c.anyChangedSince(10), false);
  c.changed('a', 11);
  c.changed('b', 12);
  assert.equal(c.hasChangedSince('a', 10), true);
  assert.equal(c.hasChangedSince('a', 11), false);
  assert.equal(c.hasChangedSince('b', 11), true);
  assert.equal(c.hasChangedSince('z', 10), false, 'an entity never seen did not change');
  assert.equal(c.anyChangedSince(11), true);
  assert.equal(c.anyChangedSince(12), false);
  c.changed('c', 13);
  c.changed('d', 14); // evicts 'a' (last change 11): the floor becomes 11
  assert.equal(c.hasChangedSince('a', 10), true, 'below the floor after eviction: maybe');
  assert.equal(c.hasChangedSince('a', 11), false, 'a did not change after 11');
  c.changed('a', 15); // a again: re-inserted as newest, evicts b (12)
  assert.equal(c.hasChangedSince('a', 14), true);
  assert.equal(c.hasChangedSince('b', 11), true, 'b evicted with 12: since 11 is below the floor');
  assert.equal(c.hasChangedSince('b', 12), false);
  c.changed('e', 5);
  assert.equal(c.hasChangedSince('e', 12), false, 'a change below the floor cannot be after a covered position');
});

test('bounded map: drops the least recently used entry past its capacity', () => {
  const m = new BoundedMap<string, number>(2);
  m.set('a', 1);
  m.set('b', 2);
  assert.equal(m.get('a'), 1); // a is now the most recent
  m.set('c', 3);
  assert.equal(m.get('b'), undefined);
  assert.equal(m.get('a'), 1);
  assert.equal(m.get('c'), 3);
  assert.equal(m.size, 2);
});

function snapshot(group: number, members: number): StateSnapshot {
  const map = new Map<string, string>();
  const mem = new Map<string, string>();
  for (let i = 0; i < members; i++) {
    map.set(`m.room.member\u0000@u${i}:x`, `$e${group}_${i}`);
    mem.set(`@u${i}:x`, 'join');
  }
  return new StateSnapshot(group, '!r:x', map, mem, 0);
}

test('state cache: bounded by the total size of its snapshots, keeping the newest', async () => {
  const dir = tempDir();
  const db = await Database.open(join(dir, 'h.db'), { cacheSizeKiB: 2048, mmapSizeBytes: 0 });
  try {
    const cache = new StateCache(new StateStore(db), 300, 10_000);
    // Ten versions of a 1,000-member room: 2,000 entries each (state map + members).
    for (let g = 1; g <= 10; g++) cache.put(snapshot(g, 1000));
    const kept = [...Array(10).keys()].map((i) => i + 1).filter((g) => cache.peek(g));
    assert.deepEqual(kept, [6, 7, 8, 9, 10], 'only the newest five fit in 10,000 entries');
    // One snapshot above the cap on its own is still kept (the newest always stays).
    cache.put(snapshot(11, 6000));
    assert.ok(cache.peek(11));
    assert.equal(cache.peek(10), undefined);
    // Small snapshots are bounded by the count cap as before.
    const small = new StateCache(new StateStore(db), 3);
    for (let g = 1; g <= 5; g++) small.put(snapshot(g, 2));
    assert.deepEqual([1, 2, 3, 4, 5].filter((g) => small.peek(g)), [3, 4, 5]);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

function storedEvent(i: number, bodyChars: number): StoredEvent {
  return {
    eventId: `$e${i}`, roomId: '!r:x', streamOrdering: i, depth: i, type: 'm.room.message', stateKey: undefined,
    sender: '@u:x', originServerTs: 0, pdu: { type: 'm.room.message', content: { body: 'x'.repeat(bodyChars) } } as unknown as Pdu,
    unsignedExtra: null, stateBefore: null, stateAfter: null, outlier: false, rejected: null, redactedBy: null,
    deviceId: null, txnId: null, hasRelations: false, threadId: null,
  };
}

test('event cache: bounded by the size of its events as well as their number', async () => {
  const dir = tempDir();
  const db = await Database.open(join(dir, 'h.db'), { cacheSizeKiB: 2048, mmapSizeBytes: 0 });
  try {
    // 5,000 events allowed, but only 1 MB of JSON: 60 KB events (near the 64 KiB PDU limit)
    // must not pile up to 300 MB.
    const cache = new EventCache(new EventsStore(db), 5000, 1_000_000);
    for (let i = 0; i < 200; i++) cache.put(storedEvent(i, 60_000));
    assert.ok(cache.jsonSize <= 1_060_000, `holds ${cache.jsonSize} characters of JSON`);
    assert.ok(cache.size <= 18, `holds ${cache.size} large events`);
    assert.ok(cache.peek('$e199'), 'the newest event stays');
    assert.equal(cache.peek('$e0'), undefined, 'the oldest are gone');
    // Promoting an event from the old generation moves it: the held JSON stays the same.
    const two = new EventCache(new EventsStore(db), 4, 1_000_000);
    two.put(storedEvent(1, 1000));
    two.put(storedEvent(2, 1000)); // young is full (half of 4): both are now the old generation
    const held = two.jsonSize;
    assert.ok(two.peek('$e1'));
    assert.equal(two.jsonSize, held);
    assert.equal(two.size, 2);
    // Forgetting an event gives its share back.
    const before = cache.jsonSize;
    cache.forget('$e199');
    assert.ok(cache.jsonSize < before - 50_000);
    // Small events are bounded by the count as before.
    const small = new EventCache(new EventsStore(db), 100, 1_000_000);
    for (let i = 0; i < 1000; i++) small.put(storedEvent(i, 10));
    assert.ok(small.size <= 100 && small.size >= 50, `holds ${small.size} small events`);
    assert.ok(small.peek('$e999'));
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
