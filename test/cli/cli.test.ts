import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hearth } from '../helpers/cli.ts';
import { tempDir } from '../helpers/server.ts';
import { HEARTH_VERSION } from '../../server/version.ts';
import { Database } from '../../server/storage/db.ts';
import { verifyPassword } from '../../server/services/passwords.ts';

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0]!;
}

test('--version and --help', () => {
  const v = hearth(['--version']);
  assert.equal(v.status, 0);
  assert.equal(v.stdout.trim(), HEARTH_VERSION);
  const h = hearth(['--help']);
  assert.equal(h.status, 0);
  for (const cmd of ['serve', 'user', 'config']) assert.match(h.stdout, new RegExp(`\\b${cmd}\\b`));
  const sh = hearth(['serve', '--help']);
  assert.equal(sh.status, 0);
  assert.match(sh.stdout, /--listen-tls HOST:PORT/);
  const uh = hearth(['user', '--help']);
  assert.equal(uh.status, 0);
  assert.match(uh.stdout, /user create LOCALPART --password/);
});

test('an unknown command or flag: one line naming it, exit 2, nothing written', () => {
  const dir = join(tempDir(), 'data');
  const c = hearth(['frobnicate']);
  assert.equal(c.status, 2);
  assert.match(oneLine(c.stderr), /unknown command 'frobnicate'/);
  const f = hearth(['serve', '--data-dir', dir, '--bogus']);
  assert.equal(f.status, 2);
  assert.match(oneLine(f.stderr), /unknown option '--bogus'/);
  assert.equal(existsSync(dir), false);
});

test('a bad value names the key and where it came from', () => {
  const dir = join(tempDir(), 'data');
  const l = hearth(['serve', '--data-dir', dir, '--listen', 'nonsense']);
  assert.equal(l.status, 2);
  assert.match(oneLine(l.stderr), /flag --listen: listen: \[0\]: expected HOST:PORT/);
  const e = hearth(['serve', '--data-dir', dir], { env: { HEARTH_LOG_LEVEL: 'loud' } });
  assert.equal(e.status, 2);
  assert.match(oneLine(e.stderr), /HEARTH_LOG_LEVEL: log_level: expected one of/);
  assert.equal(existsSync(dir), false);

  const withFile = tempDir();
  writeFileSync(join(withFile, 'config.yaml'), 'server_name: example.org\nlisten_port: 80\n');
  const k = hearth(['serve', '--data-dir', withFile]);
  assert.equal(k.status, 2);
  assert.match(oneLine(k.stderr), /config\.yaml: unknown option 'listen_port'/);
  writeFileSync(join(withFile, 'config.yaml'), 'open_registration: "sure"\n');
  const t = hearth(['serve', '--data-dir', withFile]);
  assert.equal(t.status, 2);
  assert.match(oneLine(t.stderr), /open_registration: expected true or false/);
  assert.equal(existsSync(join(withFile, 'hearth.db')), false);
});

test('an unwritable data directory is reported, exit 1', () => {
  const parent = tempDir();
  writeFileSync(join(parent, 'file'), 'x');
  const r = hearth(['serve', '--data-dir', join(parent, 'file', 'data'), '--listen', '127.0.0.1:0']);
  assert.equal(r.status, 1);
  assert.match(oneLine(r.stderr), /cannot create data directory .*file\/data: a parent path is a file/);
});

test('a port in use is reported, exit 1, and nothing is written', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as AddressInfo).port;
  const dir = join(tempDir(), 'data');
  try {
    const r = hearth(['serve', '--data-dir', dir, '--listen', `127.0.0.1:${port}`]);
    assert.equal(r.status, 1);
    assert.match(oneLine(r.stderr), new RegExp(`cannot listen \\(http\\) on 127\\.0\\.0\\.1:${port}: address already in use`));
    assert.equal(existsSync(dir), false);
  } finally {
    blocker.close();
  }
});

test('a corrupt database is refused untouched; so is a newer one', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'hearth.db'), Buffer.alloc(8192, 7));
  const r = hearth(['serve', '--data-dir', dir, '--listen', '127.0.0.1:0']);
  assert.equal(r.status, 1);
  assert.match(oneLine(r.stderr), /hearth\.db is corrupt or not a SQLite database/);
  assert.deepEqual(readFileSync(join(dir, 'hearth.db')), Buffer.alloc(8192, 7));
  assert.equal(existsSync(join(dir, 'hearth.db-wal')), false);

  const newer = tempDir();
  const db = await Database.open(join(newer, 'hearth.db'), { cacheSizeKiB: 2048, mmapSizeBytes: 0 });
  await db.write((tx) => tx.exec('PRAGMA user_version = 999'));
  await db.close();
  const n = hearth(['serve', '--data-dir', newer, '--listen', '127.0.0.1:0']);
  assert.equal(n.status, 1);
  assert.match(oneLine(n.stderr), /schema version 999, newer than this Hearth knows/);
});

test('user create: needs a server name, creates the account, refuses duplicates', async () => {
  const dir = tempDir();
  const none = hearth(['user', 'create', 'alice', '--password', 'pw', '--data-dir', dir]);
  assert.equal(none.status, 1);
  assert.match(oneLine(none.stderr), /server name is not set yet/);
  assert.equal(existsSync(join(dir, 'hearth.db')), false);

  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.yaml'), 'server_name: example.org\n');
  const ok = hearth(['user', 'create', 'alice', '--password', 's3cret-pw', '--admin', '--data-dir', dir]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /created @alice:example\.org \(admin\)/);
  const dup = hearth(['user', 'create', 'alice', '--password', 'x', '--data-dir', dir]);
  assert.equal(dup.status, 1);
  assert.match(oneLine(dup.stderr), /@alice:example\.org already exists/);
  const bad = hearth(['user', 'create', 'Alice!', '--password', 'x', '--data-dir', dir]);
  assert.equal(bad.status, 2);
  assert.match(oneLine(bad.stderr), /not a valid localpart/);
  const nopw = hearth(['user', 'create', 'bob', '--data-dir', dir]);
  assert.equal(nopw.status, 2);

  const db = await Database.open(join(dir, 'hearth.db'), { cacheSizeKiB: 2048, mmapSizeBytes: 0 });
  const row = await db.get<{ is_admin: number; password_hash: string }>("SELECT * FROM users WHERE user_id = '@alice:example.org'");
  await db.close();
  assert.equal(row?.is_admin, 1);
  assert.equal(await verifyPassword('s3cret-pw', row?.password_hash), true);
  assert.equal(await verifyPassword('wrong', row?.password_hash), false);
});

test('hearth config documents every option; OPTIONS.md is in sync', async () => {
  const r = hearth(['config']);
  assert.equal(r.status, 0);
  const { OPTIONS, renderOptionsDoc } = await import('../../server/config/schema.ts');
  for (const o of OPTIONS) assert.ok(r.stdout.includes(`\`${o.key}\``), `option ${o.key} undocumented`);
  const file = new URL('../../server/config/OPTIONS.md', import.meta.url);
  assert.equal(readFileSync(file, 'utf8'), renderOptionsDoc(), 'server/config/OPTIONS.md is stale: run `node --import tsx server/cli.ts config > server/config/OPTIONS.md`');
});

test('the bundled command (bin/hearth.js, what the appliance runs) reads config.yaml', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.yaml'), 'server_name: bundled.example\n');
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/hearth.js', import.meta.url)), 'user', 'create', 'zed', '--password', 'pw', '--data-dir', dir], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /created @zed:bundled\.example/);
  const v = spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/hearth.js', import.meta.url)), '--version'], { encoding: 'utf8' });
  assert.equal(v.stdout.trim(), HEARTH_VERSION);
});
