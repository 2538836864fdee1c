/**
 * A local directory (USB disk) as the destination, driven by the CLI while the server runs, and
 * every way the owner's input can be wrong: wrong passphrase, wrong bucket, unreachable endpoint,
 * a snapshot from a newer Hearth, a target that holds a server in use, a disk that is no longer
 * there. Each gives a clear message and changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, tempDir } from '../../helpers/server.ts';
import { startS3rver } from '../../helpers/s3rver.ts';
import { hearth } from '../../helpers/cli.ts';
import { registerUser } from '../../helpers/clients.ts';
import { Restic } from '../../../server/appliance/backups/restic.ts';
import { Database } from '../../../server/storage/db.ts';
import { SCHEMA_VERSION } from '../../../server/storage/migrations/index.ts';

const PASSPHRASE = 'local usb disk passphrase';

function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      h.update(p);
      try {
        walk(p);
      } catch {
        h.update(readFileSync(p));
      }
    }
  };
  walk(dir);
  return h.digest('hex');
}

test('local directory: CLI backup while serving, list, drill, restore; wrong passphrase, newer schema, a target in use and a vanished disk change nothing', async (t) => {
  const work = tempDir('hearth-local-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const src = await startTestServer({ open_registration: true, rate_limits: false });
  t.after(() => src.cleanup());
  await registerUser(src.baseUrl, 'carol');
  const pass = join(work, 'pass');
  writeFileSync(pass, PASSPHRASE + '\n');
  const wrong = join(work, 'wrong');
  writeFileSync(wrong, 'not the passphrase\n');
  const usb = join(work, 'usb');
  mkdirSync(usb);
  const repo = join(usb, 'hearth');

  const now = hearth(['backup', 'now', '--repo', repo, '--passphrase-file', pass, '--data-dir', src.dataDir]);
  assert.equal(now.status, 0, now.stderr);
  assert.match(now.stdout, /backup ok: snapshot [0-9a-f]{8}/);
  assert.match(now.stdout, /restore drill ok/);
  const list = hearth(['backup', 'list', '--repo', repo, '--passphrase-file', pass, '--data-dir', src.dataDir]);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /localhost/);
  const drill = hearth(['backup', 'drill', '--repo', repo, '--passphrase-file', pass, '--data-dir', src.dataDir, '--json']);
  assert.equal(drill.status, 0, drill.stderr);
  assert.equal(JSON.parse(drill.stdout).ok, true);
  const check = hearth(['backup', 'check', '--repo', repo, '--passphrase-file', pass, '--subset', '1/2', '--data-dir', src.dataDir]);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /repository ok/);

  // Wrong passphrase: a clear message, no target directory created, the repository untouched.
  const repoBefore = treeHash(repo);
  const target = join(work, 'restored');
  const bad = hearth(['restore', '--repo', repo, '--passphrase-file', wrong, '--data-dir', target]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /wrong passphrase: it does not open the backup at local directory/);
  assert.equal(existsSync(target), false);
  assert.equal(treeHash(repo), repoBefore);

  // A snapshot made by a newer Hearth: refused from its tags (before downloading) and, for a
  // snapshot without them, from its manifest — the target stays as it was.
  const fake = join(work, 'future');
  mkdirSync(join(fake, 'backup-staging'), { recursive: true });
  const fdb = await Database.open(join(fake, 'backup-staging', 'hearth.db'), { cacheSizeKiB: 2048, mmapSizeBytes: 0 });
  await fdb.write((tx) => tx.exec(`CREATE TABLE x (a INTEGER) STRICT; PRAGMA user_version = ${SCHEMA_VERSION + 1}`));
  await fdb.close();
  writeFileSync(join(fake, 'backup-staging', 'manifest.json'), JSON.stringify({ format: 1, schema_version: SCHEMA_VERSION + 1, database: { path: 'backup-staging/hearth.db', sha256: 'x', size: 1 }, counts: {}, files: {}, stores: {} }));
  const restic = new Restic({
    destination: { repo, caCert: null, bucketLookup: 'auto', region: null, credentials: null, uploadLimitKiB: 0 },
    passphrase: PASSPHRASE,
    cacheDir: join(work, 'cache'),
    tmpDir: join(work, 'tmp'),
  });
  const tagged = await restic.backup(fake, { host: 'localhost', excludes: [], tags: ['hearth', `hearth-schema:${SCHEMA_VERSION + 1}`] });
  const untagged = await restic.backup(fake, { host: 'localhost', excludes: [], tags: ['hearth'] });
  for (const id of [tagged.snapshotId, untagged.snapshotId]) {
    const r = hearth(['restore', '--repo', repo, '--passphrase-file', pass, '--snapshot', id, '--data-dir', target]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`made by a newer Hearth \\(database schema ${SCHEMA_VERSION + 1}; this Hearth knows up to ${SCHEMA_VERSION}\\): update Hearth first`));
    assert.equal(existsSync(target), false, 'nothing left behind');
  }
  const listed = JSON.parse(hearth(['backup', 'list', '--repo', repo, '--passphrase-file', pass, '--data-dir', src.dataDir, '--json']).stdout);
  assert.equal(listed.find((x: { id: string }) => x.id.startsWith(tagged.snapshotId)).restorable, false);

  // A data directory holding a server in use is never restored over.
  const inUse = hearth(['restore', '--repo', repo, '--passphrase-file', pass, '--snapshot', now.stdout.match(/snapshot ([0-9a-f]{8})/)![1]!, '--data-dir', src.dataDir]);
  assert.equal(inUse.status, 1);
  assert.match(inUse.stderr, /already holds a Hearth server in use \(1 users\).*nothing was changed/);

  // Restored as root into the service user's directory (`sudo hearth restore`): the files
  // belong to that user, or the server could not open them.
  const owned = join(work, 'owned');
  mkdirSync(owned);
  if (process.getuid?.() === 0) chownSync(owned, 4242, 4242);
  const good = hearth(['restore', '--repo', repo, '--passphrase-file', pass, '--snapshot', now.stdout.match(/snapshot ([0-9a-f]{8})/)![1]!, '--data-dir', owned]);
  assert.equal(good.status, 0, good.stderr);
  if (process.getuid?.() === 0) {
    assert.equal(statSync(join(owned, 'hearth.db')).uid, 4242);
    assert.equal(statSync(join(owned, 'secrets', 'backup-passphrase')).uid, 4242);
  }

  // The disk is gone (unmounted): the next backup says so instead of starting a new repository.
  renameSync(usb, join(work, 'usb-unplugged'));
  mkdirSync(usb);
  const gone = hearth(['backup', 'now', '--repo', repo, '--passphrase-file', pass, '--data-dir', src.dataDir]);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /earlier backups at .* are gone \(is the disk mounted/);
  assert.deepEqual(readdirSync(usb), [], 'no repository created in its place');
  const history = await src.server.services.backups.store.history(10);
  assert.equal(history[0]!.status, 'failed');
  assert.equal(history[1]!.status, 'ok');
});

test('S3: wrong bucket, unreachable endpoint, untrusted certificate and wrong passphrase are clear messages; no bucket is created', async (t) => {
  const s3 = await startS3rver({ buckets: ['real-bucket'] });
  t.after(() => s3.stop());
  const work = tempDir('hearth-s3err-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const src = await startTestServer({ backup_ca_cert: s3.caFile, backup_s3_bucket_lookup: 'path' });
  t.after(() => src.cleanup());
  const s = src.server.services;
  const creds = { access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey };

  const missing = await s.backups.configure({ repo: s3.repo('no-such-bucket', 'x'), ...creds, passphrase: PASSPHRASE }).catch((e: Error) => e);
  assert.match(String(missing), /the bucket does not exist: bucket 'no-such-bucket' \(folder 'x'\) at https:\/\/127\.0\.0\.1:\d+ \(check the bucket name/);
  assert.deepEqual(readdirSync(s3.dir), ['real-bucket'], 'no bucket was created');

  const closed = 'https://127.0.0.1:9';
  const unreachable = await s.backups.configure({ repo: `s3:${closed}/real-bucket/x`, ...creds, passphrase: PASSPHRASE }).catch((e: Error) => e);
  assert.match(String(unreachable), /cannot reach bucket 'real-bucket' .* at https:\/\/127\.0\.0\.1:9: .*connection refused/);

  const ok = await s.backups.configure({ repo: s3.repo('real-bucket', 'x'), ...creds, passphrase: PASSPHRASE });
  assert.equal(ok.created, true);
  const wrongPass = await s.backups.configure({ repo: s3.repo('real-bucket', 'x'), ...creds, passphrase: 'something else entirely' }).catch((e: Error) => e);
  assert.match(String(wrongPass), /wrong passphrase/);
  // The settings saved by the successful call are still the ones in effect.
  assert.equal((await s.backups.settings()).repo, s3.repo('real-bucket', 'x'));

  // The restore path reports the same through the CLI.
  const passFile = join(work, 'p');
  writeFileSync(passFile, PASSPHRASE);
  const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
  const base = ['restore', '--passphrase-file', passFile, '--ca-cert', s3.caFile, '--s3-bucket-lookup', 'path', '--data-dir', join(work, 'new')];
  const r1 = hearth([...base, '--repo', s3.repo('wrong-bucket', 'x')], { env });
  assert.equal(r1.status, 1);
  assert.match(r1.stderr, /the bucket does not exist/);
  const r2 = hearth([...base, '--repo', `s3:${closed}/real-bucket/x`], { env });
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /cannot reach/);
  const r3 = hearth([...base, '--repo', s3.repo('real-bucket', 'x')], { env });
  assert.equal(r3.status, 1);
  assert.match(r3.stderr, /there are no Hearth backups in bucket 'real-bucket'/);
  // A server whose certificate is not trusted (the system roots do not know the test CA).
  const r4 = hearth(['restore', '--passphrase-file', passFile, '--ca-cert', '/etc/ssl/certs/ca-certificates.crt', '--s3-bucket-lookup', 'path', '--data-dir', join(work, 'new'), '--repo', s3.repo('real-bucket', 'x')], { env });
  assert.equal(r4.status, 1);
  assert.match(r4.stderr, /cannot connect securely to bucket 'real-bucket'/);
  assert.equal(existsSync(join(work, 'new')), false);
});
