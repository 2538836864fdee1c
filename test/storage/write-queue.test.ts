import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Database } from '../../server/storage/db.ts';
import { migrate } from '../../server/storage/migrate.ts';
import { tempDir } from '../helpers/server.ts';

async function freshDb(): Promise<Database> {
  const db = await Database.open(join(tempDir(), 'h.db'), { cacheSizeKiB: 4096, mmapSizeBytes: 0 });
  await migrate(db);
  await db.write((tx) => tx.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)'));
  return db;
}

test('1,000 concurrent writes all commit, in far fewer transactions', async () => {
  const db = await freshDb();
  const before = db.stats.transactions;
  const results = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => db.write((tx) => tx.run('INSERT INTO t (v) VALUES (?)', [`v${i}`]))),
  );
  const txs = db.stats.transactions - before;
  assert.equal(results.length, 1000);
  assert.ok(results.every((r) => r.changes === 1));
  const row = await db.get<{ n: number }>('SELECT count(*) AS n FROM t');
  assert.equal(row?.n, 1000);
  assert.ok(txs <= 10, `expected group commit to batch 1,000 writes into ≤ 10 transactions, got ${txs}`);
  await db.close();
});

test("one caller's failure rolls back only its own changes", async () => {
  const db = await freshDb();
  const outcomes = await Promise.allSettled([
    db.write((tx) => tx.run("INSERT INTO t (v) VALUES ('a')")),
    db.write(async (tx) => {
      await tx.run("INSERT INTO t (v) VALUES ('b')");
      await tx.run("INSERT INTO t (v) VALUES ('a')"); // UNIQUE violation: this job fails
    }),
    db.write((tx) => tx.run("INSERT INTO t (v) VALUES ('c')")),
  ]);
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
  const rows = await db.all<{ v: string }>('SELECT v FROM t ORDER BY v');
  assert.deepEqual(rows.map((r) => r.v), ['a', 'c']);
  await db.close();
});

test('afterCommit hooks run only after the commit, and reads then see the write', async () => {
  const db = await freshDb();
  let seen: number | undefined;
  const hookRan = new Promise<void>((resolve) => {
    void db.write(async (tx) => {
      await tx.run("INSERT INTO t (v) VALUES ('x')");
      tx.afterCommit(() => {
        void db.get<{ n: number }>('SELECT count(*) AS n FROM t').then((r) => {
          seen = r?.n;
          resolve();
        });
      });
    });
  });
  await hookRan;
  assert.equal(seen, 1);
  // A failing job's hooks never run.
  let ran = false;
  await assert.rejects(
    db.write(async (tx) => {
      tx.afterCommit(() => (ran = true));
      throw new Error('nope');
    }),
  );
  await db.idle();
  assert.equal(ran, false);
  await db.close();
});

test('writes after close are refused with a clear error', async () => {
  const db = await freshDb();
  await db.close();
  await assert.rejects(db.write((tx) => tx.run("INSERT INTO t (v) VALUES ('late')")), /closed/);
});
