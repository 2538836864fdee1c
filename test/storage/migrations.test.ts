import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from '../../server/storage/db.ts';
import { migrate, schemaVersion } from '../../server/storage/migrate.ts';
import { MIGRATIONS, SCHEMA_VERSION } from '../../server/storage/migrations/index.ts';
import { tempDir } from '../helpers/server.ts';

const PRAGMAS = { cacheSizeKiB: 4096, mmapSizeBytes: 0 };

test('migration list is append-only numbered 1..N', () => {
  MIGRATIONS.forEach((m, i) => assert.equal(m.version, i + 1, `migration ${m.name} out of order`));
  assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
});

test('a fresh database is migrated to the current schema', async () => {
  const db = await Database.open(join(tempDir(), 'h.db'), PRAGMAS, { maxSchemaVersion: SCHEMA_VERSION });
  const applied = await migrate(db);
  assert.equal(applied.length, SCHEMA_VERSION);
  assert.equal(await schemaVersion(db), SCHEMA_VERSION);
  const tables = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'");
  assert.ok(tables.some((t) => t.name === 'users'));
  // Running again is a no-op.
  assert.deepEqual(await migrate(db), []);
  const mode = await db.get<{ journal_mode: string }>('PRAGMA journal_mode');
  assert.equal(mode?.journal_mode, 'wal');
  await db.close();
});

test('upgrading from the previous schema keeps existing data', async () => {
  const path = join(tempDir(), 'h.db');
  const older = MIGRATIONS.slice(0, 1);
  let db = await Database.open(path, PRAGMAS);
  await migrate(db, older);
  await db.write((tx) => tx.run("INSERT INTO users (user_id, localpart, created_ts) VALUES ('@old:x', 'old', 1)"));
  await db.close();

  db = await Database.open(path, PRAGMAS, { maxSchemaVersion: SCHEMA_VERSION });
  assert.equal(await schemaVersion(db), 1);
  const applied = await migrate(db);
  assert.equal(applied.length, SCHEMA_VERSION - 1);
  assert.equal(await schemaVersion(db), SCHEMA_VERSION);
  const row = await db.get<{ localpart: string }>("SELECT localpart FROM users WHERE user_id = '@old:x'");
  assert.equal(row?.localpart, 'old');
  await db.close();
});

test('a database from a newer Hearth is refused and left untouched', async () => {
  const path = join(tempDir(), 'h.db');
  let db = await Database.open(path, PRAGMAS);
  await migrate(db);
  await db.write((tx) => tx.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`));
  await db.close();
  const before = readFileSync(path);
  const mtime = statSync(path).mtimeMs;

  await assert.rejects(
    Database.open(path, PRAGMAS, { maxSchemaVersion: SCHEMA_VERSION }),
    (e: Error & { code?: string }) => e.code === 'DB_TOO_NEW' && /newer than this Hearth knows/.test(e.message),
  );
  assert.deepEqual(readFileSync(path), before);
  assert.equal(statSync(path).mtimeMs, mtime);
});

test('a file that is not a database is refused with a clear error', async () => {
  const dir = tempDir();
  const path = join(dir, 'h.db');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path, 'this is not sqlite '.repeat(100));
  await assert.rejects(
    Database.open(path, PRAGMAS, { maxSchemaVersion: SCHEMA_VERSION }),
    (e: Error & { code?: string }) => e.code === 'DB_CORRUPT' && e.message.includes(path),
  );
  assert.equal(readFileSync(path, 'utf8'), 'this is not sqlite '.repeat(100));
});
