/**
 * The backup pieces that need no restic: when backups run, what they keep, which repository
 * strings are accepted, how restic's failures read to an owner, what the data set holds, the
 * lock, the post-restore hooks, the crash-safe switch-over and the restore target rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readdirSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/server.ts';
import { nextRunAt, parseRetention, checkSubset, checkDue, retryAt, CATCH_UP_DELAY_MS } from '../../../server/appliance/backups/schedule.ts';
import { parseRepo, describeRepo, repoFromS3Fields } from '../../../server/appliance/backups/destination.ts';
import { classifyResticError, BackupError } from '../../../server/appliance/backups/errors.ts';
import { excludePatterns, listDataSet } from '../../../server/appliance/backups/data-set.ts';
import { acquireLock, LOCK_FILE } from '../../../server/appliance/backups/lock.ts';
import { applyPendingRestore, markStaged, PENDING_DIR, pendingStatePath } from '../../../server/appliance/backups/pending-restore.ts';
import { runPostRestoreHooks, STREAM_GAP } from '../../../server/appliance/backups/post-restore.ts';
import { inspectTarget } from '../../../server/appliance/backups/target.ts';
import { Database } from '../../../server/storage/db.ts';
import { migrate } from '../../../server/storage/migrate.ts';

const at = (iso: string) => new Date(iso).getTime();

test('schedule: daily at the chosen local time; a missed slot is caught up; off means never', () => {
  const now = at('2030-05-10T12:00:00');
  // Ran this morning at 03:30 → next is tomorrow 03:30.
  assert.equal(nextRunAt('03:30', now, at('2030-05-10T03:30:05')), at('2030-05-11T03:30:00'));
  // Never ran: wait for the slot (the wizard starts the first backup itself).
  assert.equal(nextRunAt('03:30', now, null), at('2030-05-11T03:30:00'));
  // Last ran two days ago (the server was off at 03:30 today): soon after start.
  assert.equal(nextRunAt('03:30', now, at('2030-05-08T03:30:00')), now + CATCH_UP_DELAY_MS);
  // Later the same evening than the slot: still the next day.
  assert.equal(nextRunAt('23:15', at('2030-05-10T23:20:00'), at('2030-05-10T23:15:00')), at('2030-05-11T23:15:00'));
  assert.equal(nextRunAt('off', now, null), null);
  assert.equal(nextRunAt(null, now, at('2030-05-10T03:30:00')), at('2030-05-11T03:30:00'), 'default 03:30');
  assert.throws(() => nextRunAt('3:30pm', now, null), /HH:MM/);
});

test('a failed scheduled backup is retried hourly, three times, never past the next slot', () => {
  const failed = at('2030-05-10T03:30:10');
  const now = at('2030-05-10T03:31:00');
  assert.equal(retryAt('03:30', now, failed, 1), failed + 3600_000);
  assert.equal(retryAt('03:30', now, failed, 3), failed + 3600_000);
  assert.equal(retryAt('03:30', now, failed, 4), null, 'then wait for tomorrow');
  assert.equal(retryAt('03:30', now, at('2030-05-09T10:00:00'), 1), null, 'a failure before the last slot is old news');
  assert.equal(retryAt('off', now, failed, 1), null);
});

test('retention and the weekly check rotate through the data', () => {
  assert.deepEqual(parseRetention(null), { daily: 7, weekly: 4, monthly: 6 });
  assert.deepEqual(parseRetention('daily=3, monthly=12'), { daily: 3, weekly: 4, monthly: 12 });
  assert.throws(() => parseRetention('daily=0,weekly=0,monthly=0'), /at least one/);
  assert.throws(() => parseRetention('yearly=2'), /daily=7/);
  assert.deepEqual([0, 1, 7, 8].map(checkSubset), ['1/8', '2/8', '8/8', '1/8']);
  assert.equal(checkDue(null, 0), true);
  assert.equal(checkDue(at('2030-05-01T00:00:00'), at('2030-05-05T00:00:00')), false);
  assert.equal(checkDue(at('2030-05-01T00:00:00'), at('2030-05-08T00:00:00')), true);
});

test('destinations: S3 and local directories only, never credentials in the URL', () => {
  assert.deepEqual(parseRepo('s3:https://s3.eu-central-1.amazonaws.com/my-bucket/hearth/box1'), {
    kind: 's3',
    endpoint: 'https://s3.eu-central-1.amazonaws.com',
    bucket: 'my-bucket',
    prefix: 'hearth/box1',
  });
  assert.deepEqual(parseRepo('/media/usb/hearth'), { kind: 'local', path: '/media/usb/hearth' });
  assert.throws(() => parseRepo('sftp:me@host:/x'), /only S3-compatible storage/);
  assert.throws(() => parseRepo('relative/dir'), /absolute path/);
  assert.throws(() => parseRepo('s3:https://key:secret@host/b'), /not in the repository URL/);
  assert.throws(() => parseRepo('s3:https://host'), /names no bucket/);
  assert.equal(repoFromS3Fields({ endpoint: 's3.us-west-002.backblazeb2.com/', bucket: 'hearth-b', prefix: '/odroid/' }), 's3:https://s3.us-west-002.backblazeb2.com/hearth-b/odroid');
  assert.throws(() => repoFromS3Fields({ endpoint: 'h', bucket: 'Bad_Bucket' }), BackupError);
  assert.equal(describeRepo('s3:https://h:9000/b/p'), "bucket 'b' (folder 'p') at https://h:9000");
});

test("restic's failures become messages an owner can act on", () => {
  const cases: Array<[string, string, RegExp]> = [
    ['Fatal: wrong password or no key found\n', 'WRONG_PASSPHRASE', /wrong passphrase/],
    ['Fatal: unable to open config file: Stat: The specified bucket does not exist\nIs there a repository at the following location?', 'NO_BUCKET', /bucket does not exist/],
    ['Fatal: unable to open config file: Stat: The specified key does not exist.\nIs there a repository', 'NO_REPOSITORY', /no backup found/],
    ['Fatal: unable to open config file: Stat: Get "https://127.0.0.1:1/b/?location=": dial tcp 127.0.0.1:1: connect: connection refused', 'UNREACHABLE', /cannot reach .*connection refused/],
    ['Fatal: unable to open config file: stat /mnt/usb/x/config: no such file or directory\nIs there a repository at the following location?', 'NO_REPOSITORY', /no backup found/],
    ['Get "https://h/": x509: certificate signed by unknown authority', 'TLS', /securely/],
    ['Fatal: unable to open config file: Stat: Access Denied.', 'ACCESS_DENIED', /access denied/],
  ];
  for (const [stderr, code, msg] of cases) {
    const e = classifyResticError(stderr, 'the destination', 1);
    assert.equal(e.code, code, stderr);
    assert.match(e.message, msg);
    assert.ok(!/Fatal:/.test(e.message));
  }
});

test('the data set: everything but live database files, caches, temp files, machine.json and the setup token', async () => {
  const dir = tempDir('hearth-dataset-');
  try {
    const files: Record<string, string> = {
      'hearth.db': 'live', 'hearth.db-wal': 'wal', 'hearth.db-shm': 'shm', 'machine.json': '{}', 'signing.key': 'k',
      'config.yaml': 'c', 'acme/account.key': 'a', 'media/blobs/ab/cd/abcd': 'm', 'media/tmp/up-1': 'partial',
      'cache/restic/x': 'c', 'tmp/t': 't', 'secrets/backup-passphrase': 'p', 'x.tmp': 'tmp', 'newarea/state.bin': 'new',
      'thumbs/CACHEDIR.TAG': 'Signature: 8a477f597d28d172789f06886806bc55', 'thumbs/t1': 't', 'replaced-2030/hearth.db': 'old',
      'setup-token': 'abcd-efgh',
    };
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), c);
    }
    assert.deepEqual(
      (await listDataSet(dir)).map((f) => `${f.path}${f.large ? ' (large)' : ''}`),
      ['acme/account.key', 'config.yaml', 'media/blobs/ab/cd/abcd (large)', 'newarea/state.bin', 'secrets/backup-passphrase', 'signing.key'],
    );
    const patterns = excludePatterns('/var/lib/hearth');
    assert.ok(patterns.includes('/var/lib/hearth/hearth.db-wal'));
    assert.ok(patterns.every((p) => p.startsWith('/var/lib/hearth/')), 'anchored: never matches an ancestor such as /tmp');
    assert.ok(excludePatterns('/data/[x]').includes('/data/\\[x\\]/machine.json'), 'glob characters escaped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one backup or restore at a time; a dead holder is taken over', () => {
  const dir = tempDir('hearth-lock-');
  try {
    const release = acquireLock(dir, 'backup');
    assert.throws(() => acquireLock(dir, 'restore'), (e: BackupError) => e.code === 'BUSY' && /a backup is already running/.test(e.message));
    release();
    // A lock left by a process that no longer exists (crash, power cut).
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, what: 'backup', since: 0 }));
    const again = acquireLock(dir, 'backup');
    again();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('post-restore hooks: one-time keys discarded, streams moved ahead, device lists renewed; missing tables skipped', async () => {
  const dir = tempDir('hearth-hooks-');
  const db = await Database.open(join(dir, 'hearth.db'), { cacheSizeKiB: 2048, mmapSizeBytes: 0 });
  try {
    await migrate(db);
    await db.write(async (tx) => {
      await tx.run("INSERT INTO users (user_id, localpart, created_ts) VALUES ('@a:x', 'a', 1)");
      await tx.run("INSERT INTO e2e_device_keys (user_id, device_id, ed25519, key_json, added_ts) VALUES ('@a:x', 'D1', 'k', '{}', 1), ('@remote:y', 'R1', 'k', '{}', 1)");
      await tx.run("INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json) VALUES ('@a:x', 'D1', 'signed_curve25519', 'AAA', '{}')");
      await tx.run("INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json) VALUES ('@a:x', 'D1', 'signed_curve25519', 'F', '{}')");
      await tx.run("INSERT INTO e2e_device_list_stream (user_id, device_id, ts) VALUES ('@a:x', 'D1', 1)");
      await tx.run("INSERT INTO backup_runs (kind, trigger, repo, started_ts, status) VALUES ('backup', 'schedule', '/r', 5, 'running')");
    });
    const ran = await db.write((tx) => runPostRestoreHooks(tx, { now: 100, snapshotTime: 50 }));
    assert.equal(ran.length, 5);
    const floor = await db.get<{ value: string }>("SELECT value FROM server_meta WHERE key = 'stream_floor:events' LIMIT 1");
    assert.equal(floor?.value, String(STREAM_GAP), 'empty events table: floor at the gap');
    assert.equal((await db.get<{ n: number }>('SELECT count(*) AS n FROM e2e_one_time_keys'))!.n, 0);
    assert.equal((await db.get<{ n: number }>('SELECT count(*) AS n FROM e2e_fallback_keys'))!.n, 0);
    const stream = await db.all<{ stream_id: number; user_id: string }>('SELECT stream_id, user_id FROM e2e_device_list_stream ORDER BY stream_id');
    assert.deepEqual(stream.map((r) => r.user_id), ['@a:x', '@a:x'], 'a new entry for the local device only');
    assert.ok(stream[1]!.stream_id > STREAM_GAP, 'past any position a client could hold');
    assert.equal((await db.get<{ status: string }>('SELECT status FROM backup_runs LIMIT 1'))!.status, 'interrupted');
    // A database without the E2EE tables (an older schema): those hooks are skipped.
    const ranOld = await db.write(async (tx) => {
      await tx.exec('DROP TABLE e2e_one_time_keys; DROP TABLE e2e_device_list_stream');
      return runPostRestoreHooks(tx, { now: 100, snapshotTime: 50 });
    });
    assert.equal(ranOld.length, 3);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('switching restored data in: what was there moves aside; a crash midway is finished on the next start', () => {
  const dir = tempDir('hearth-switch-');
  try {
    writeFileSync(join(dir, 'hearth.db'), 'fresh install');
    writeFileSync(join(dir, 'setup-token'), 'tok');
    writeFileSync(join(dir, 'machine.json'), '{"arch":"arm64"}');
    mkdirSync(join(dir, PENDING_DIR, 'media'), { recursive: true });
    writeFileSync(join(dir, PENDING_DIR, 'hearth.db'), 'restored');
    writeFileSync(join(dir, PENDING_DIR, 'signing.key'), 'key');
    writeFileSync(join(dir, PENDING_DIR, 'media', 'm'), 'media');
    // Without the state file, a staging directory is an unfinished download: never applied.
    assert.equal(applyPendingRestore(dir), null);
    assert.equal(readFileSync(join(dir, 'hearth.db'), 'utf8'), 'fresh install');

    const state = markStaged(dir, { snapshot_id: 'abc', snapshot_time: '2030-01-01T00:00:00Z', server_name: 'example.org' }, at('2030-01-02T00:00:00Z'));
    // Simulate a power cut after moving the old files aside and one restored entry in.
    mkdirSync(join(dir, state.replaced));
    for (const n of ['hearth.db', 'setup-token']) writeFileSync(join(dir, state.replaced, n), readFileSync(join(dir, n)));
    rmSync(join(dir, 'hearth.db'));
    rmSync(join(dir, 'setup-token'));
    writeFileSync(pendingStatePath(dir), JSON.stringify({ ...state, phase: 'moving-in' }));
    writeFileSync(join(dir, 'signing.key'), 'key');
    rmSync(join(dir, PENDING_DIR, 'signing.key'));

    const done = applyPendingRestore(dir);
    assert.equal(done?.snapshot_id, 'abc');
    assert.equal(readFileSync(join(dir, 'hearth.db'), 'utf8'), 'restored');
    assert.equal(readFileSync(join(dir, 'media', 'm'), 'utf8'), 'media');
    assert.equal(readFileSync(join(dir, 'signing.key'), 'utf8'), 'key');
    assert.equal(readFileSync(join(dir, state.replaced, 'hearth.db'), 'utf8'), 'fresh install', 'nothing overwritten');
    assert.equal(readFileSync(join(dir, 'machine.json'), 'utf8'), '{"arch":"arm64"}', "this machine's profile stays");
    assert.equal(existsSync(join(dir, PENDING_DIR)), false);
    assert.equal(applyPendingRestore(dir), null, 'nothing left to do');
    assert.deepEqual(readdirSync(dir).sort(), ['hearth.db', 'machine.json', 'media', state.replaced, 'signing.key'].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restore targets: empty or a fresh unused install; a server in use or foreign files are refused', async () => {
  const dir = tempDir('hearth-target-');
  try {
    assert.deepEqual(await inspectTarget(join(dir, 'new')), { kind: 'empty' });
    mkdirSync(join(dir, 'empty'));
    writeFileSync(join(dir, 'empty', 'machine.json'), '{}');
    assert.deepEqual(await inspectTarget(join(dir, 'empty')), { kind: 'empty' });
    mkdirSync(join(dir, 'other'));
    writeFileSync(join(dir, 'other', 'notes.txt'), 'x');
    assert.match((await inspectTarget(join(dir, 'other'))).kind, /in-use/);

    mkdirSync(join(dir, 'fresh'));
    const db = await Database.open(join(dir, 'fresh', 'hearth.db'), { cacheSizeKiB: 2048, mmapSizeBytes: 0 });
    await migrate(db);
    assert.deepEqual(await inspectTarget(join(dir, 'fresh')), { kind: 'fresh-install' });
    await db.write((tx) => tx.run("INSERT INTO users (user_id, localpart, created_ts) VALUES ('@a:x', 'a', 1)"));
    const used = await inspectTarget(join(dir, 'fresh'));
    assert.equal(used.kind, 'in-use');
    assert.match((used as { reason: string }).reason, /already holds a Hearth server in use \(1 users\).*nothing was changed/);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
