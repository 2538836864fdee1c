import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTestServer, tempDir } from '../helpers/server.ts';
import { api, registerUser } from '../helpers/clients.ts';
import { Database } from '../../server/storage/db.ts';

// After a restore, clients may hold /sync tokens from the old box that are past the snapshot.
// The restore records stream floors; new rows must get positions beyond them, or those clients
// would never see the new rows.
test('after a restore, new events, receipts and account data get positions past the recorded floors', { timeout: 60_000 }, async () => {
  const dataDir = tempDir();
  let srv = await startTestServer({ open_registration: true, rate_limits: false }, { dataDir });
  const alice = await registerUser(srv.baseUrl, 'alice');
  const a = api(srv.baseUrl, alice.accessToken);
  const room = (await a.post('/_matrix/client/v3/createRoom', {})).body.room_id as string;
  await srv.stop();

  const FLOOR = 5_000_000;
  let db = await Database.open(join(dataDir, 'hearth.db'), { cacheSizeKiB: 2048, mmapSizeBytes: 0 });
  await db.write(async (tx) => {
    for (const t of ['events', 'receipts', 'account_data']) {
      await tx.run('INSERT INTO server_meta (key, value) VALUES (?, ?)', [`stream_floor:${t}`, String(FLOOR)]);
    }
  });
  await db.close();

  srv = await startTestServer({ open_registration: true, rate_limits: false }, { dataDir });
  const b = api(srv.baseUrl, alice.accessToken);
  const sent = await b.put(`/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/t1`, { msgtype: 'm.text', body: 'after restore' });
  assert.equal(sent.status, 200);
  const eventId = sent.body.event_id as string;
  assert.equal((await b.post(`/_matrix/client/v3/rooms/${encodeURIComponent(room)}/receipt/m.read/${encodeURIComponent(eventId)}`, {})).status, 200);
  assert.equal((await b.put(`/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/org.example.x`, { a: 1 })).status, 200);
  await srv.stop();

  db = await Database.open(join(dataDir, 'hearth.db'), { cacheSizeKiB: 2048, mmapSizeBytes: 0 });
  const ev = await db.get<{ s: number }>('SELECT stream_ordering AS s FROM events WHERE event_id = ? LIMIT 1', [eventId]);
  const rc = await db.get<{ m: number }>('SELECT max(stream_id) AS m FROM receipts');
  const ad = await db.get<{ m: number }>('SELECT max(stream_id) AS m FROM account_data');
  await db.close();
  assert.ok(ev!.s > FLOOR, `event position ${ev!.s} not past the floor`);
  assert.ok(rc!.m > FLOOR, `receipt position ${rc!.m} not past the floor`);
  assert.ok(ad!.m > FLOOR, `account data position ${ad!.m} not past the floor`);
  await srv.cleanup();
});
