/** presence: false (config) — the appliance switch for small boards: no presence is tracked or sent. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../../helpers/server.ts';
import { api, registerUser } from '../../helpers/clients.ts';

test('with presence off, status updates are accepted but nobody is ever online', async () => {
  const ts = await startTestServer({ open_registration: true, rate_limits: false, presence: false });
  try {
    const alice = await registerUser(ts.baseUrl, 'poff-alice');
    const bob = await registerUser(ts.baseUrl, 'poff-bob');
    const a = api(ts.baseUrl, alice.accessToken);
    const b = api(ts.baseUrl, bob.accessToken);
    const roomId = (await a.post('/createRoom', { preset: 'public_chat' })).body.room_id;
    await b.post(`/join/${encodeURIComponent(roomId)}`, {});
    const since = (await b.get('/sync')).body.next_batch;
    assert.equal((await a.put(`/presence/${encodeURIComponent(alice.userId)}/status`, { presence: 'online', status_msg: 'hi' })).status, 200);
    assert.equal((await b.get(`/presence/${encodeURIComponent(alice.userId)}/status`)).body.presence, 'offline');
    const s = await b.get('/sync', { since, timeout: 300 });
    assert.deepEqual(s.body.presence.events, []);
  } finally {
    await ts.cleanup();
  }
});
