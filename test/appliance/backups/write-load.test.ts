/**
 * A backup taken while clients keep writing: every client request succeeds while it runs, and
 * the snapshot is consistent — the drill's integrity check passes and its row counts match the
 * manifest; restored, the database holds a prefix of what was sent (no message is half there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { startTestServer, tempDir } from '../../helpers/server.ts';
import { api, registerUser } from '../../helpers/clients.ts';
import { sendText } from './fixture.ts';
import { makeRestic } from '../../../server/appliance/backups/backup-job.ts';
import { restoreSnapshot } from '../../../server/appliance/backups/restore.ts';

const PASSPHRASE = 'write load passphrase';

function query<T>(file: string, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (e) => {
      if (e) return reject(e);
      db.all(sql, (err: Error | null, rows: T[]) => db.close(() => (err ? reject(err) : resolve(rows))));
    });
  });
}

test('backup under write load: no client request fails, the snapshot is consistent', { timeout: 120_000 }, async (t) => {
  const work = tempDir('hearth-load-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const src = await startTestServer({ open_registration: true, rate_limits: false });
  t.after(() => src.cleanup());
  const s = src.server.services;
  const users = [await registerUser(src.baseUrl, 'w1'), await registerUser(src.baseUrl, 'w2'), await registerUser(src.baseUrl, 'w3')];
  const room = await api(src.baseUrl, users[0]!.accessToken).post('/createRoom', { preset: 'public_chat', name: 'load' });
  const roomId: string = room.body.room_id;
  for (const u of users.slice(1)) await api(src.baseUrl, u.accessToken).post(`/rooms/${encodeURIComponent(roomId)}/join`, {});
  // Some history first, so the database snapshot and upload take a moment.
  for (let i = 0; i < 60; i++) await sendText(src.baseUrl, users[i % 3]!, roomId, `seed ${i} ${'x'.repeat(200)}`);

  mkdirSync(join(work, 'usb'));
  const repo = join(work, 'usb', 'hearth');
  await s.backups.configure({ type: 'local', path: repo, passphrase: PASSPHRASE });

  // Clients writing (messages) and reading (/sync) in a loop until the backup is done.
  let stop = false;
  let sent = 0;
  const failures: string[] = [];
  let maxLatency = 0;
  const timed = async (what: string, fn: () => Promise<number>) => {
    const t0 = performance.now();
    try {
      const status = await fn();
      if (status !== 200) failures.push(`${what}: HTTP ${status}`);
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
    }
    maxLatency = Math.max(maxLatency, performance.now() - t0);
  };
  const writer = async (i: number) => {
    const u = users[i]!;
    const c = api(src.baseUrl, u.accessToken);
    for (let n = 0; !stop; n++) {
      await timed('send', async () => {
        const r = await c.put(`/rooms/${encodeURIComponent(roomId)}/send/m.room.message/load-${i}-${n}`, { msgtype: 'm.text', body: `load ${i}/${n}` });
        if (r.status === 200) sent++;
        return r.status;
      });
      if (n % 5 === 0) await timed('sync', async () => (await c.get('/sync', { timeout: 0 })).status);
    }
  };
  const countBefore = (await query<{ n: number }>(join(src.dataDir, 'hearth.db'), 'SELECT count(*) AS n FROM events'))[0]!.n;
  const load = Promise.all([0, 1, 2].map(writer));
  await new Promise((r) => setTimeout(r, 300));
  // While restic runs: lowest CPU priority, one Go thread, a heap limit.
  const seen: Array<{ nice: number; env: string }> = [];
  const watch = setInterval(() => {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (!cmd[0]?.endsWith('restic') || !cmd.includes(repo)) continue;
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        seen.push({ nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]), env: readFileSync(`/proc/${pid}/environ`, 'utf8') });
      } catch {
        // Exited meanwhile.
      }
    }
  }, 100);
  const outcome = (await (await s.backups.backupNow('manual')).done)!;
  clearInterval(watch);
  assert.ok(seen.length > 0, 'restic was seen running');
  for (const p of seen) {
    assert.equal(p.nice, 19);
    assert.match(p.env, /(^|\0)GOMAXPROCS=1(\0|$)/);
    assert.match(p.env, /(^|\0)GOMEMLIMIT=256MiB(\0|$)/);
    assert.doesNotMatch(p.env, /HEARTH_|AWS_CA_BUNDLE/, 'only what restic needs');
  }
  stop = true;
  await load;
  const countAfter = (await query<{ n: number }>(join(src.dataDir, 'hearth.db'), 'SELECT count(*) AS n FROM events'))[0]!.n;
  t.diagnostic(`${sent} messages sent while the backup ran, slowest request ${maxLatency.toFixed(0)} ms, ${failures.length} failures`);

  assert.deepEqual(failures, []);
  assert.ok(sent > 20, `the load really ran (${sent} messages)`);
  assert.ok(outcome, 'the backup finished');
  assert.equal(outcome.drill.ok, true, outcome.drill.detail);
  assert.match(outcome.drill.detail, /integrity ok/);

  // Restored, the database is whole and holds a moment between the start and the end of the load.
  const dest = join(work, 'restored');
  const restic = makeRestic(join(work, 'scratch'), { repo, caCert: null, bucketLookup: 'auto', region: null, credentials: null, uploadLimitKiB: 0 }, PASSPHRASE);
  await restoreSnapshot({ restic, snapshot: 'latest', dataDir: dest, repo, trigger: 'cli', now: Date.now });
  const db = join(dest, 'hearth.db');
  assert.deepEqual(await query(db, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
  assert.deepEqual(await query(db, 'PRAGMA foreign_key_check'), []);
  const n = (await query<{ n: number }>(db, 'SELECT count(*) AS n FROM events'))[0]!.n;
  assert.ok(n > countBefore && n < countAfter, `snapshot holds ${n} events, between ${countBefore} and ${countAfter}`);
  // Every stream position up to the newest restored event is there: no gaps from a torn copy.
  const [range] = await query<{ lo: number; hi: number; c: number }>(db, 'SELECT min(stream_ordering) AS lo, max(stream_ordering) AS hi, count(*) AS c FROM events WHERE stream_ordering > 0');
  const [live] = await query<{ c: number }>(join(src.dataDir, 'hearth.db'), `SELECT count(*) AS c FROM events WHERE stream_ordering > 0 AND stream_ordering <= ${range!.hi}`);
  assert.equal(range!.c, live!.c, 'the snapshot holds exactly the events the live database had up to that point');
});
