/**
 * The whole promise, against a real S3-compatible server over TLS (s3rver): back up a running
 * server holding users, a room with messages, E2EE keys and media; nothing readable reaches the
 * bucket; a second backup after one more message uploads far less; `hearth restore` into a fresh
 * data directory ("other hardware") gives a server that answers the same /sync for the same
 * user, serves the identical media bytes and signs with the same key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, tempDir } from '../../helpers/server.ts';
import { startS3rver } from '../../helpers/s3rver.ts';
import { hearth } from '../../helpers/cli.ts';
import { api } from '../../helpers/clients.ts';
import { downloadMedia, populate, sendText, syncView } from './fixture.ts';

const PASSPHRASE = 'correct horse battery staple 42';

test('S3 over TLS: encrypted, incremental backups of a live server restore elsewhere with the same sync, media and keys', async (t) => {
  const s3 = await startS3rver({ buckets: ['hearth-backups'] });
  t.after(() => s3.stop());
  const src = await startTestServer({ open_registration: true, rate_limits: false, backup_ca_cert: s3.caFile, backup_s3_bucket_lookup: 'path' });
  t.after(() => src.cleanup());
  const work = tempDir('hearth-restore-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const s = src.server.services;

  const data = await populate(src.baseUrl);
  // Files other areas keep in the data directory travel without this feature knowing them.
  mkdirSync(join(src.dataDir, 'acme'), { recursive: true });
  writeFileSync(join(src.dataDir, 'acme', 'account-test.json'), '{"kid":"https://acme.example/acct/1"}');
  mkdirSync(join(src.dataDir, 'tls'), { recursive: true });
  writeFileSync(join(src.dataDir, 'tls', 'managed.pem'), 'certificate chain');
  const repo = s3.repo('hearth-backups', 'odroid');
  const setup = await s.backups.configure({ repo, access_key_id: s3.accessKeyId, secret_access_key: s3.secretAccessKey, passphrase: PASSPHRASE });
  assert.equal(setup.created, true);

  // First backup, through the running server (as the schedule or "Back up now" would).
  const first = (await (await s.backups.backupNow('manual')).done)!;
  assert.ok(first, 'the backup finished');
  assert.equal(first.drill.ok, true, first.drill.detail);
  assert.match(first.drill.detail, /integrity ok/);
  const firstBytes = s3.bucketBytes('hearth-backups');
  assert.ok(firstBytes > data.mediaBytes.length, 'the media went up');

  // No plaintext leaves the box: neither the message's marker nor the media's is in any object.
  assert.deepEqual(s3.filesContaining(Buffer.from(data.marker)), []);
  assert.deepEqual(s3.filesContaining(Buffer.from('@alice:localhost')), []);

  // One more message, a second backup: only the changed database pages go up.
  const lastEventId = await sendText(src.baseUrl, data.alice, data.roomId, 'one more message');
  const secondStart = Date.now();
  let uploadEnd = 0;
  const onProgress = (p: { phase: string }) => {
    if (p.phase === 'retention' && !uploadEnd) uploadEnd = Date.now();
  };
  s.backups.progressListeners.add(onProgress);
  const second = (await (await s.backups.backupNow('manual')).done)!;
  s.backups.progressListeners.delete(onProgress);
  assert.ok(second);
  assert.equal(second.drill.ok, true, second.drill.detail);
  // Bytes the second backup wrote to the bucket before retention ran (retention then drops the
  // first snapshot of the same day, so the bucket's total is no measure of the upload).
  const secondUpload = s3.bytesWrittenSince('hearth-backups', secondStart) - s3.bytesWrittenSince('hearth-backups', uploadEnd);
  const pruneWrites = s3.bytesWrittenSince('hearth-backups', uploadEnd);
  t.diagnostic(
    `uploaded to the bucket: first backup ${firstBytes} bytes, second (one more message) ${secondUpload} bytes; ` +
      `restic data_added (before compression) ${first.bytesAdded} then ${second.bytesAdded}; data set ${first.bytes} bytes; ` +
      `retention afterwards wrote ${pruneWrites} bytes`,
  );
  assert.ok(secondUpload < firstBytes / 5, `incremental: ${secondUpload} vs ${firstBytes}`);
  assert.deepEqual(s3.filesContaining(Buffer.from(data.marker)), []);

  // The dashboard's view of it.
  const status = await s.backups.status();
  assert.equal((status.last_backup as { snapshot_id: string }).snapshot_id, second.snapshotId);
  assert.equal((status.drill as { status: string }).status, 'ok');
  assert.ok((status.size_bytes as number) > 0);
  assert.ok(typeof status.next_run_ts === 'number' && status.next_run_ts > Date.now());
  assert.ok((status.history as unknown[]).length >= 2);

  // What a client sees now, to compare with the restored server.
  const before = await syncView(src.baseUrl, data.alice);
  const keysBefore = (await api(src.baseUrl).get('/_matrix/key/v2/server')).body;

  // Restore on "other hardware": the CLI, a new data directory, S3 keys from AWS_* variables.
  const passFile = join(work, 'passphrase');
  writeFileSync(passFile, PASSPHRASE + '\n');
  const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
  const list = hearth(['restore', '--repo', repo, '--passphrase-file', passFile, '--ca-cert', s3.caFile, '--s3-bucket-lookup', 'path', '--list'], { env });
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${second.snapshotId.slice(0, 8)}.*localhost`));
  const newDir = join(work, 'graviton-data');
  const restore = hearth(['restore', '--repo', repo, '--passphrase-file', passFile, '--ca-cert', s3.caFile, '--s3-bucket-lookup', 'path', '--data-dir', newDir], { env });
  assert.equal(restore.status, 0, restore.stderr + restore.stdout);
  assert.match(restore.stdout, /restored backup .* of localhost/);
  assert.match(restore.stdout, /after that moment are not in it/);
  assert.equal(existsSync(join(newDir, 'machine.json')), false, 'no machine-specific files travel');
  for (const f of ['acme/account-test.json', 'tls/managed.pem', 'config.yaml'].filter((x) => existsSync(join(src.dataDir, x)))) {
    assert.equal(readFileSync(join(newDir, f), 'utf8'), readFileSync(join(src.dataDir, f), 'utf8'), f);
  }

  const dst = await startTestServer({}, { dataDir: newDir });
  t.after(() => dst.cleanup());
  // Same /sync for the same user with the same access token.
  const after = await syncView(dst.baseUrl, data.alice);
  assert.deepEqual(after, before);
  assert.ok(JSON.stringify(after).includes(lastEventId), 'the latest backup was restored');
  // Identical media bytes.
  assert.deepEqual(await downloadMedia(dst.baseUrl, data.bob, data.mediaUri), data.mediaBytes);
  // Same signing key.
  const keysAfter = (await api(dst.baseUrl).get('/_matrix/key/v2/server')).body;
  assert.deepEqual(keysAfter.verify_keys, keysBefore.verify_keys);
  assert.equal(readFileSync(join(newDir, 'signing.key'), 'utf8'), readFileSync(join(src.dataDir, 'signing.key'), 'utf8'));
  // E2EE: device keys restored; one-time keys possibly handed out after the snapshot are gone.
  const query = await api(dst.baseUrl, data.bob.accessToken).post('/keys/query', { device_keys: { [data.alice.userId]: [] } });
  assert.ok(query.body.device_keys[data.alice.userId][data.alice.deviceId], 'device keys restored');
  const counts = await api(dst.baseUrl, data.alice.accessToken).post('/keys/upload', {});
  assert.equal(counts.body.one_time_key_counts.signed_curve25519 ?? 0, 0);
  // Backups carry on from the restored server: same destination, passphrase saved.
  const restoredStatus = await dst.server.services.backups.status();
  assert.equal((restoredStatus.destination as { repo: string }).repo, repo);
  assert.ok(restoredStatus.restored_from, 'the dashboard says where the data came from');
});
