/** Space children ordering (client-server "Spaces": `order`, then timestamp, then room ID), on the spec's own example. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { orderChildren } from '../../server/services/federation/hierarchy.ts';

const child = (stateKey: string, ts: number, order?: unknown) => ({
  type: 'm.space.child',
  state_key: stateKey,
  origin_server_ts: ts,
  content: { via: ['example.org'], ...(order !== undefined && { order }) },
});

test('the spec’s example orders b, a, c, e, d', () => {
  const sorted = orderChildren([
    child('!b:example.org', 1640341000000, ' '),
    child('!a:example.org', 1640141000000, 'aaaa'),
    child('!c:example.org', 1640841000000, 'first'),
    child('!e:example.org', 1640641000000),
    child('!d:example.org', 1640741000000),
  ] as never);
  assert.deepEqual(sorted.map((c) => c.state_key), ['!b:example.org', '!a:example.org', '!c:example.org', '!e:example.org', '!d:example.org']);
});

test('invalid orders count as none; ties fall back to timestamp, then room ID', () => {
  const sorted = orderChildren([
    child('!z:x', 5, 'x'.repeat(51)),
    child('!y:x', 5, 'caf\u00e9'),
    child('!b:x', 1, 'same'),
    child('!a:x', 1, 'same'),
    child('!c:x', 0, 7),
  ] as never);
  assert.deepEqual(sorted.map((c) => c.state_key), ['!a:x', '!b:x', '!c:x', '!y:x', '!z:x']);
});
