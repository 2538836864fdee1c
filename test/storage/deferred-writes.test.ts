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

const values = async (db: Database) => (await db.all<{ v: string }>('SELECT v FROM t ORDER BY id')).map((r) => r.v);

test('a lone deferred write commits, and its failure fails only that job', async () => {
  const db = await freshDb();
  await db.write(async (tx) => tx.defer("INSERT INTO t (v) VALUES ('a')"));
  assert.deepEqual(await values(db), ['a']);
  await assert.rejects(db.write(async (tx) => tx.defer("INSERT INTO t (v) VALUES ('a')")), /UNIQUE/);
  // The failed autocommit statement left no transaction open: the next writes work.
  await db.write(async (tx) => tx.defer("INSERT INTO t (v) VALUES ('b')"));
  assert.deepEqual(await values(db), ['a', 'b']);
  await db.close();
});

test('deferred writes run after the job returns, after its other statements, in order', async () => {
  const db = await freshDb();
  const seen = await db.write(async (tx) => {
    tx.defer("INSERT INTO t (v) VALUES ('d1')");
    await tx.run("INSERT INTO t (v) VALUES ('r1')");
    tx.defer("INSERT INTO t (v) VALUES ('d2')");
    // Not yet written: deferred writes wait for the job's end.
    return (await tx.all<{ v: string }>('SELECT v FROM t')).map((r) => r.v);
  });
  assert.deepEqual(seen, ['r1']);
  assert.deepEqual(await values(db), ['r1', 'd1', 'd2']);
  await db.close();
});

test('in a shared transaction a failing deferred write rolls back only its own job', async () => {
  const db = await freshDb();
  await db.write(async (tx) => tx.defer("INSERT INTO t (v) VALUES ('taken')"));
  const outcomes = await Promise.allSettled([
    db.write(async (tx) => tx.defer("INSERT INTO t (v) VALUES ('x')")),
    db.write(async (tx) => {
      await tx.run("INSERT INTO t (v) VALUES ('y')");
      tx.defer("INSERT INTO t (v) VALUES ('taken')"); // UNIQUE violation at the job's end
    }),
    db.write(async (tx) => tx.defer("INSERT INTO t (v) VALUES ('z')")),
  ]);
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual(await values(db), ['taken', 'x', 'z']);
  await db.close();
});
