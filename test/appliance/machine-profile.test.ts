import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectBoard, machineProfile, pragmasFor } from '../../server/appliance/machine-profile.ts';
import { tempDir } from '../helpers/server.ts';

test('database tuning follows the machine: a 2 GB armhf board vs a 64-bit server', () => {
  const odroid = pragmasFor({ totalMemBytes: 2 * 1024 ** 3, arch: 'arm' });
  assert.equal(odroid.cacheSizeKiB, 16 * 1024, '2 GB → 16 MiB page cache');
  assert.equal(odroid.mmapSizeBytes, 0, 'no mmap in a 32-bit address space');
  const graviton = pragmasFor({ totalMemBytes: 8 * 1024 ** 3, arch: 'arm64' });
  assert.equal(graviton.cacheSizeKiB, 64 * 1024);
  assert.equal(graviton.mmapSizeBytes, 256 * 1024 * 1024);
  const tiny = pragmasFor({ totalMemBytes: 256 * 1024 ** 2, arch: 'arm' });
  assert.equal(tiny.cacheSizeKiB, 4 * 1024, 'never below 4 MiB');
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
