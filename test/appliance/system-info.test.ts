import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { diskOf, readCpuTimes, readMemInfo, readOsRelease, readThermalZones } from '../../server/appliance/system-info.ts';
import { startTestServer, tempDir } from '../helpers/server.ts';

test('temperature comes from the hottest thermal zone; none on machines without sensors', async () => {
  const root = tempDir();
  for (const [zone, milli] of [['thermal_zone0', '48000'], ['thermal_zone1', '61500'], ['thermal_zone2', 'garbage']] as const) {
    mkdirSync(join(root, zone));
    writeFileSync(join(root, zone, 'temp'), `${milli}\n`);
  }
  assert.equal(await readThermalZones(root), 61.5);
  assert.equal(await readThermalZones(join(root, 'missing')), null);
});

test('disk use is read with statfs for the file system holding the data dir, with its mount point', async () => {
  const base = tempDir();
  const spaced = join(base, 'with space');
  const dir = join(spaced, 'data');
  mkdirSync(dir, { recursive: true });
  const mounts = join(base, 'mounts');
  const top = base.split('/').slice(0, 2).join('/');
  writeFileSync(
    mounts,
    ['/dev/vda1 / ext4 rw 0 0', `tmpfs ${top} tmpfs rw 0 0`, 'proc /proc proc rw 0 0', `x ${spaced.replace(/ /g, '\\040')} ext4 rw 0 0`].join('\n') + '\n',
  );
  const d = await diskOf(dir, mounts);
  assert.ok(d, 'statfs answered');
  assert.equal(d.mount, spaced, 'the longest mount point that holds the directory (\\040 decoded)');
  const st = statfsSync(dir);
  assert.equal(d.size, st.blocks * st.bsize);
  assert.ok(d.used > 0 && d.used <= d.size);
  assert.equal((await diskOf(base, mounts))?.mount, top);
  assert.equal(await diskOf(join(dir, 'missing'), mounts), null, 'no numbers for a missing directory');
});

test('a dashboard sample fills load, memory and the data disk, and is kept for the charts', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.cleanup());
  const system = srv.server.services.appliance.system;
  await system.sample();
  const snap = system.current();
  assert.ok(snap.diskTotal && snap.diskTotal > 0 && snap.diskUsed !== null && snap.diskUsed <= snap.diskTotal, 'disk numbers');
  assert.ok(snap.diskMount && srv.dataDir.startsWith(snap.diskMount), 'the mount point holding the data dir');
  assert.ok(snap.memTotal > 0 && snap.memUsed > 0 && snap.memUsed <= snap.memTotal);
  assert.ok(typeof snap.cpuLoad === 'number' && snap.cpuLoad >= 0 && snap.cpuLoad <= 100, 'CPU load measured');
  assert.match(snap.os, /\S/, 'an OS name');
  const history = await system.history();
  assert.equal(history.length, 1);
  assert.equal(history[0]!.disk_total, snap.diskTotal);
});

test('CPU times from /proc/stat (iowait counts as idle) and the OS name from os-release', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'stat'), 'cpu  100 5 50 800 20 0 5 0 0 0\ncpu0 50 2 25 400 10 0 2 0 0 0\nintr 1 2 3\n');
  assert.deepEqual(await readCpuTimes(join(dir, 'stat')), { idle: 820, total: 980 });
  assert.equal(await readCpuTimes(join(dir, 'missing')), null);
  writeFileSync(join(dir, 'os-release'), 'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\n');
  assert.equal(await readOsRelease([join(dir, 'missing'), join(dir, 'os-release')]), 'Debian GNU/Linux 13 (trixie)');
  assert.equal(await readOsRelease([join(dir, 'missing')]), null);
});

test('memory in use is MemTotal minus MemAvailable (free + buffers + cached + slab on kernels without it)', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'meminfo'), 'MemTotal:        2000000 kB\nMemFree:          300000 kB\nMemAvailable:    1200000 kB\nBuffers:           50000 kB\nCached:           700000 kB\nSwapCached:            0 kB\nSlab:             100000 kB\n');
  assert.deepEqual(await readMemInfo(join(dir, 'meminfo')), { total: 2000000 * 1024, active: 800000 * 1024 });
  writeFileSync(join(dir, 'old'), 'MemTotal:        2000000 kB\nMemFree:          300000 kB\nBuffers:           50000 kB\nCached:           700000 kB\nSwapCached:        99999 kB\nSlab:             100000 kB\n');
  assert.deepEqual(await readMemInfo(join(dir, 'old')), { total: 2000000 * 1024, active: 850000 * 1024 });
  assert.equal(await readMemInfo(join(dir, 'missing')), null);
});
