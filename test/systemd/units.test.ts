// Every unit in systemd/ passes `systemd-analyze verify`, checked inside a throwaway root laid
// out the way the image installs them (image/lib/rootfs.sh): units in /usr/lib/systemd/system,
// helper scripts in /usr/libexec/hearth, `hearth` in /usr/bin. The host's own systemd units
// are copied in so targets such as network-online.target resolve, and nothing on the host
// (users, /usr/bin/hearth) is needed or touched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const unitsDir = join(repo, 'systemd');
const units = readdirSync(unitsDir).filter((f) => /\.(service|timer|path|socket|target|mount)$/.test(f));
const hostUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'sysinit.target')));
const haveAnalyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0 && !!hostUnits;
const skip = !haveAnalyze && 'needs systemd-analyze (Debian package systemd)';

let root = '';

function makeRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'hearth-units-'));
  const sys = join(r, 'usr/lib/systemd/system');
  mkdirSync(join(r, 'usr/lib'), { recursive: true });
  cpSync(hostUnits!, sys, { recursive: true, verbatimSymlinks: true });
  for (const u of units) cpSync(join(unitsDir, u), join(sys, u));
  cpSync(join(unitsDir, 'libexec'), join(r, 'usr/libexec/hearth'), { recursive: true });
  mkdirSync(join(r, 'usr/bin'), { recursive: true });
  // The image links /usr/bin/hearth to the built bin/hearth.js; here only its existence matters.
  writeFileSync(join(r, 'usr/bin/hearth'), '#!/bin/sh\n');
  chmodSync(join(r, 'usr/bin/hearth'), 0o755);
  mkdirSync(join(r, 'etc'), { recursive: true });
  return r;
}

function verify(r: string, files: string[]): { code: number | null; out: string } {
  const res = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${r}`, ...files], { encoding: 'utf8' });
  return { code: res.status, out: `${res.stdout}${res.stderr}`.trim() };
}

before(() => {
  if (haveAnalyze) root = makeRoot();
});
after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('systemd/ has the units the image enables', () => {
  for (const u of ['hearth.service', 'hearth-firstboot.service', 'hearth-setup-token.service', 'hearth-boot-config.service']) {
    assert.ok(units.includes(u), `${u} missing from systemd/`);
  }
});

for (const unit of units) {
  test(`systemd-analyze verify ${unit}: no errors, no warnings`, { skip }, () => {
    const r = verify(root, [join(root, 'usr/lib/systemd/system', unit)]);
    assert.equal(r.out, '', `systemd-analyze verify ${unit} said:\n${r.out}`);
    assert.equal(r.code, 0);
  });
}

test('the check catches a misspelt directive and a missing program', { skip }, () => {
  const sys = join(root, 'usr/lib/systemd/system');
  const text = readFileSync(join(unitsDir, 'hearth.service'), 'utf8');
  writeFileSync(join(sys, 'broken-key.service'), text.replace(/^Restart=/m, 'Restrat='));
  const typo = verify(root, [join(sys, 'broken-key.service')]);
  assert.match(typo.out, /Unknown key.*Restrat/);
  writeFileSync(join(sys, 'broken-exec.service'), text.replace('/usr/bin/hearth serve', '/usr/bin/hearth-missing serve'));
  const missing = verify(root, [join(sys, 'broken-exec.service')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.out, /hearth-missing/);
});

test('hearth.service: unprivileged, low ports by capability only, notify + watchdog, 2 GB memory limits', () => {
  const s = readFileSync(join(unitsDir, 'hearth.service'), 'utf8');
  const get = (k: string) => [...s.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((m) => m[1]);
  assert.deepEqual(get('User'), ['hearth']);
  assert.deepEqual(get('StateDirectory'), ['hearth']);
  assert.deepEqual(get('Type'), ['notify']);
  assert.ok(Number(get('WatchdogSec')[0]) > 0);
  assert.deepEqual(get('AmbientCapabilities'), ['CAP_NET_BIND_SERVICE']);
  assert.deepEqual(get('CapabilityBoundingSet'), ['CAP_NET_BIND_SERVICE']);
  assert.deepEqual(get('Restart'), ['on-failure']);
  assert.match(get('ExecStart')[0], /^\/usr\/bin\/hearth serve\b/);
  const env = new Map(get('Environment').map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  assert.equal(env.get('HEARTH_DATA_DIR'), '/var/lib/hearth');
  const listeners = `${env.get('HEARTH_LISTEN')},${env.get('HEARTH_LISTEN_TLS')}`.split(',');
  for (const port of ['80', '443', '8448']) assert.ok(listeners.some((l) => l.endsWith(`]:${port}`) || l.endsWith(`:${port}`)), `does not listen on ${port}`);
  assert.ok(env.get('HEARTH_LISTEN_TLS')!.includes(':443') && env.get('HEARTH_LISTEN_TLS')!.includes(':8448'), '443 and 8448 must be TLS');
  const mb = (v: string) => (v.endsWith('G') ? Number(v.slice(0, -1)) * 1024 : Number(v.replace(/M$/, '')));
  const high = mb(get('MemoryHigh')[0]);
  const max = mb(get('MemoryMax')[0]);
  assert.ok(high < max && max <= 1700, `MemoryHigh ${high} / MemoryMax ${max} MiB do not leave room on a 2 GB board`);
  for (const k of ['ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'NoNewPrivileges=yes']) {
    assert.ok(s.includes(`\n${k}\n`), `${k} missing`);
  }
});

test('systemd-analyze security rates hearth.service OK (exposure ≤ 3.0)', { skip }, () => {
  const res = spawnSync(
    'systemd-analyze',
    ['security', '--offline=yes', '--man=no', '--no-pager', `--root=${root}`, '--threshold=30', join(root, 'usr/lib/systemd/system/hearth.service')],
    { encoding: 'utf8' },
  );
  const level = /Overall exposure level for hearth\.service: ([\d.]+)/.exec(res.stdout);
  assert.ok(level, res.stdout + res.stderr);
  assert.ok(Number(level[1]) <= 3.0, `exposure ${level[1]}`);
  assert.equal(res.status, 0);
});

test('sysusers creates the unprivileged hearth user with no login shell', { skip }, () => {
  const r = mkdtempSync(join(tmpdir(), 'hearth-sysusers-'));
  try {
    mkdirSync(join(r, 'etc'), { recursive: true });
    mkdirSync(join(r, 'usr/lib/sysusers.d'), { recursive: true });
    cpSync(join(unitsDir, 'hearth.sysusers.conf'), join(r, 'usr/lib/sysusers.d/hearth.conf'));
    const res = spawnSync('systemd-sysusers', [`--root=${r}`], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    const line = readFileSync(join(r, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('hearth:'));
    assert.ok(line, 'no hearth user');
    const [, , uid, , , home, shell] = line.split(':');
    assert.ok(Number(uid) > 0 && Number(uid) < 1000, `uid ${uid} is not a system uid`);
    assert.equal(home, '/var/lib/hearth');
    assert.equal(shell, '/usr/sbin/nologin');
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
});
