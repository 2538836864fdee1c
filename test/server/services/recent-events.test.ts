/** The in-memory window of recent events that incremental /sync reads instead of SQLite. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentEvents } from '../../../server/services/events/recent-events.ts';

test('recent events: per room, newest first, limited, only what the window covers', () => {
  const r = new RecentEvents(100, 5);
  r.add([
    { stream: 101, roomId: 'a', eventId: 'e101' },
    { stream: 102, roomId: 'b', eventId: 'e102' },
    { stream: 103, roomId: 'a', eventId: 'e103' },
  ]);
  assert.deepEqual([...r.perRoom(new Set(['a', 'b']), 100, 103, 10)!], [['a', ['e103', 'e101']], ['b', ['e102']]]);
  assert.deepEqual([...r.perRoom(new Set(['a']), 101, 103, 10)!], [['a', ['e103']]]);
  assert.deepEqual([...r.perRoom(new Set(['a']), 100, 102, 1)!], [['a', ['e101']]], 'upper bound and limit');
  assert.equal(r.perRoom(new Set(['a']), 99, 103, 10), undefined, 'before the start position: ask the database');
  // Older events (backfill) are ignored; past capacity the oldest fall out.
  r.add([{ stream: 50, roomId: 'a', eventId: 'old' }]);
  r.add([4, 5, 6, 7].map((i) => ({ stream: 100 + i, roomId: 'c', eventId: `e10${i}` })));
  assert.equal(r.coveredFrom, 102);
  assert.equal(r.perRoom(new Set(['a']), 101, 107, 10), undefined);
  assert.deepEqual([...r.perRoom(new Set(['a', 'c']), 102, 107, 2)!], [['c', ['e107', 'e106']], ['a', ['e103']]]);
});
