#!/usr/bin/env node
// The test suite drives real Debian programs (Pebble for ACME, Chromium for the wizard, restic
// for backups, openssl for throwaway CAs). On a fresh machine of this kind (Debian, root) they are
// installed with apt; otherwise the exact command to run is printed.
import { execFileSync, spawnSync } from 'node:child_process';

export const SYSTEM_PACKAGES = { pebble: '/usr/bin/pebble', chromium: '/usr/bin/chromium', restic: '/usr/bin/restic', openssl: '/usr/bin/openssl' };

export function ensureSystemDeps() {
  const missing = Object.entries(SYSTEM_PACKAGES)
    .filter(([, bin]) => spawnSync('test', ['-x', bin]).status !== 0)
    .map(([pkg]) => pkg);
  if (missing.length === 0) return true;
  const isRoot = process.getuid?.() === 0;
  const cmd = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (!isRoot) {
    console.error(`tests need Debian packages: ${missing.join(', ')}. Run: sudo apt-get update && sudo ${cmd}`);
    return false;
  }
  console.error(`installing test dependencies: ${missing.join(' ')}`);
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    return true;
  } catch {
    console.error(`could not install ${missing.join(', ')}; run: ${cmd}`);
    return false;
  }
}
