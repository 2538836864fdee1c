/**
 * What machine we run on, and the database tuning that follows from it.
 *
 * Probing reads a few /sys and /proc files; the profile is still cached in DATA_DIR/machine.json
 * and recomputed only when the cheap fingerprint (architecture, RAM, CPU count) changes — e.g.
 * after a restore onto a Graviton.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { DbPragmas } from '../storage/db.ts';

export interface MachineProfile {
  fingerprint: string;
  arch: string;
  totalMemBytes: number;
  cpus: number;
  /** Board or VM model as reported by the hardware (device tree on ARM boards, DMI elsewhere). */
  model: string;
  /** A board we tune for specifically; 'generic' otherwise. Hook for later tuning. */
  board: 'odroid-xu4' | 'graviton' | 'generic';
}

function fingerprint(): string {
  return `${os.arch()}/${os.totalmem()}/${os.cpus().length}`;
}

export function detectBoard(model: string, arch: string): MachineProfile['board'] {
  if (/odroid[-\s]?xu[34]|exynos5422/i.test(model)) return 'odroid-xu4';
  if (arch === 'arm64' && /amazon|graviton|aws/i.test(model)) return 'graviton';
  return 'generic';
}

/** A small text file from /sys or /proc, trimmed; '' when absent or unreadable. */
function readInfo(path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\0/g, '').trim();
  } catch {
    return '';
  }
}

/**
 * Reads what systeminformation's system() would report from the same files, without importing
 * it or running dmidecode (~0.2–0.4 s of the first start): DMI names x86 machines and EC2
 * instances (Graviton included); ARM boards name themselves in the device tree
 * ("Hardkernel Odroid XU4").
 */
async function probe(): Promise<MachineProfile> {
  const dmi = [readInfo('/sys/class/dmi/id/sys_vendor'), readInfo('/sys/class/dmi/id/product_name')].filter((s) => s && s !== '-');
  let model = dmi.join(' ').trim() || readInfo('/proc/device-tree/model');
  if (!model) model = existsSync('/.dockerenv') ? 'Docker Container' : 'unknown';
  return {
    fingerprint: fingerprint(),
    arch: os.arch(),
    totalMemBytes: os.totalmem(),
    cpus: os.cpus().length,
    model,
    board: detectBoard(model, os.arch()),
  };
}

export async function machineProfile(dataDir: string): Promise<MachineProfile> {
  const cacheFile = join(dataDir, 'machine.json');
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as MachineProfile;
    if (cached.fingerprint === fingerprint()) return cached;
  } catch {
    // No cache yet, or unreadable: probe below.
  }
  const profile = await probe();
  try {
    writeFileSync(cacheFile, JSON.stringify(profile, null, 2) + '\n');
  } catch {
    // A read-only data dir is reported elsewhere; the profile still works uncached.
  }
  return profile;
}

/**
 * SQLite page cache ≈ 1/128 of RAM (16 MiB on a 2 GB board), capped at 64 MiB. mmap only on
 * 64-bit machines: on armhf the 3 GiB address space is shared with Node's heap, and mmap of a
 * growing database there risks address-space exhaustion for little gain.
 */
export function pragmasFor(p: Pick<MachineProfile, 'totalMemBytes' | 'arch'>): DbPragmas {
  const cacheSizeKiB = Math.min(64 * 1024, Math.max(4 * 1024, Math.floor(p.totalMemBytes / 128 / 1024)));
  const is64 = p.arch === 'arm64' || p.arch === 'x64' || p.arch === 'ppc64' || p.arch === 's390x';
  const mmapSizeBytes = is64 ? Math.min(256 * 1024 * 1024, Math.floor(p.totalMemBytes / 16)) : 0;
  return { cacheSizeKiB, mmapSizeBytes };
}
