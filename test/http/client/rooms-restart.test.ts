/**
 * Rooms survive a restart: the event graph continues from the stored forward extremities, sync
 * tokens issued before the restart still work, state and account data are as they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, tempDir } from '../../helpers/server.ts';
import { api, loginUser, registerUser } from '../../helpers/clients.ts';
import type { Pdu } from '../../../server/protocol/pdu-types.ts';

test('after a restart the room graph, tokens, state and account data carry on', async () => {
  const dataDir = tempDir();
  let ts = await startTestServer({ open_registration: true, rate_limits: false }, { dataDir });
  const alice = await registerUser(ts.baseUrl, 'restart-alice', 'restart-password');
  let a = api(ts.baseUrl, alice.accessToken);
  const roomId = (await a.post('/createRoom', { name: 'persistent' })).body.room_id;
  const r = encodeURIComponent(roomId);
  const before = (await a.put(`/rooms/${r}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'before' })).body.event_id;
  await a.put(`/user/${encodeURIComponent(alice.userId)}/account_data/org.example`, { kept: true });
  const since = (await a.get('/sync')).body.next_batch;
  const keyFile = (await import('node:fs')).readFileSync(`${dataDir}/signing.key`, 'utf8');
  await ts.stop();

  ts = await startTestServer({ open_registration: true, rate_limits: false }, { dataDir });
  try {
    assert.equal((await import('node:fs')).readFileSync(`${dataDir}/signing.key`, 'utf8'), keyFile, 'the signing key is kept');
    const login = await loginUser(ts.baseUrl, 'restart-alice', 'restart-password');
    a = api(ts.baseUrl, login.body.access_token);
    const after = (await a.put(`/rooms/${r}/send/m.room.message/t2`, { msgtype: 'm.text', body: 'after' })).body.event_id;
    const row = await ts.server.services.db.get<{ json: string }>('SELECT json FROM events WHERE event_id = ?', [after]);
    assert.deepEqual((JSON.parse(row!.json) as Pdu).prev_events, [before], 'the graph continues from the stored extremity');
    const inc = await a.get('/sync', { since });
    assert.deepEqual(inc.body.rooms.join[roomId].timeline.events.map((e: any) => e.event_id), [after]);
    assert.equal((await a.get(`/rooms/${r}/state/m.room.name`)).body.name, 'persistent');
    // Messages from before and after the restart are searchable.
    const found = await a.post('/search', { search_categories: { room_events: { search_term: 'before after', order_by: 'recent' } } });
    assert.equal(found.body.search_categories.room_events.count, 0, 'no single message has both words');
    const both = await Promise.all(['before', 'after'].map((w) => a.post('/search', { search_categories: { room_events: { search_term: w } } })));
    assert.deepEqual(both.map((x) => x.body.search_categories.room_events.results[0].result.event_id), [before, after]);
    assert.deepEqual((await a.get(`/user/${encodeURIComponent(alice.userId)}/account_data/org.example`)).body, { kept: true });
    // Stream positions continue: a new account data change is seen incrementally.
    await a.put(`/user/${encodeURIComponent(alice.userId)}/account_data/org.example`, { kept: 'again' });
    const inc2 = await a.get('/sync', { since: inc.body.next_batch });
    assert.deepEqual(inc2.body.account_data.events.find((e: any) => e.type === 'org.example').content, { kept: 'again' });
  } finally {
    await ts.cleanup();
  }
});
