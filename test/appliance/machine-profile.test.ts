import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectBoard, machineProfile, pragmasFor } from '../../server/appliance/machine-profile.ts';
import { tempDir } from '../helpers/server.ts';

test('database caches are bounded on every host, smaller for the writer, and nothing is memory-mapped', () => {
  const odroid = pragmasFor({ totalMemBytes: 2 * 1024 ** 3, arch: 'arm' });
  assert.equal(odroid.cacheSizeKiB, 8 * 1024, '2 GB board: 8 MiB reader cache');
  assert.equal(odroid.writerCacheSizeKiB, 2 * 1024, '2 GB board: 2 MiB writer cache');
  assert.equal(odroid.mmapSizeBytes, 0);
  const big = pragmasFor({ totalMemBytes: 24 * 1024 ** 3, arch: 'x64' });
  assert.deepEqual(big, odroid, 'a 24 GB host gets the same caps: RSS must not grow with the machine');
  assert.equal(pragmasFor({ totalMemBytes: 8 * 1024 ** 3, arch: 'arm64' }).mmapSizeBytes, 0, 'no mmap on 64-bit either (mapped pages count in RSS)');
  const tiny = pragmasFor({ totalMemBytes: 256 * 1024 ** 2, arch: 'arm' });
  assert.equal(tiny.cacheSizeKiB, 2 * 1024, 'never below 2 MiB for reads');
  assert.equal(tiny.writerCacheSizeKiB, 1024, 'never below 1 MiB for the writer');
});

test('board detection recognises the ODROID-XU4 and Graviton', () => {
  assert.equal(detectBoard('Hardkernel Odroid XU4', 'arm'), 'odroid-xu4');
  assert.equal(detectBoard('Hardkernel ODROID-XU4', 'arm'), 'odroid-xu4');
  assert.equal(detectBoard('Amazon EC2 c7g.large', 'arm64'), 'graviton');
  assert.equal(detectBoard('Docker Container', 'x64'), 'generic');
});

test('the machine profile is cached in the data dir and re-probed when the hardware changes', async () => {
  const dir = tempDir();
  const first = await machineProfile(dir);
  const cached = JSON.parse(readFileSync(join(dir, 'machine.json'), 'utf8'));
  assert.equal(cached.fingerprint, first.fingerprint);
  // Same fingerprint: the cached profile is used as is.
  writeFileSync(join(dir, 'machine.json'), JSON.stringify({ ...cached, model: 'from-cache' }));
  assert.equal((await machineProfile(dir)).model, 'from-cache');
  // A restore onto other hardware changes the fingerprint: probe again.
  writeFileSync(join(dir, 'machine.json'), JSON.stringify({ ...cached, fingerprint: 'arm/2147483648/8', model: 'from-cache' }));
  const reprobed = await machineProfile(dir);
  assert.notEqual(reprobed.model, 'from-cache');
  assert.equal(reprobed.fingerprint, first.fingerprint);
});
