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
 * SQLite's memory, bounded on every host: Hearth is an appliance for 2 GB boards and modest cloud
 * instances, and a cache that grows with the machine's RAM grows the process's RSS with the
 * database (issue 4: RSS after the cs bench's load ≤ 110 MB). The hot data of /sync and sends
 * lives in Hearth's own caches (events, state, memberships, stream positions); SQLite's page
 * cache needs the upper levels of the B-trees and the leaves being appended to, and the kernel's
 * page cache keeps the file anyway (a miss costs one pread of a cached page, microseconds).
 * Measured on the cs bench (50 rooms × 1,000 messages, an 80 MB database): reader 8 MiB, writer
 * 2 MiB, no mmap gave initial sync 20–50 ms and unchanged send latency, with RSS after load
 * ~65 MB lower than 64 MiB caches per connection plus a 256 MiB mmap.
 * - reader: RAM/256, between 2 and 8 MiB (8 MiB from a 2 GB board up). It serves every read.
 * - writer: RAM/1024, between 1 and 2 MiB. It touches the right-most leaves of the tables and
 *   indexes it appends to, and a few random index leaves per event.
 * - no mmap on any host: mapped pages of the database count in RSS up to the file's size (and
 *   on armhf the 3 GiB address space is shared with Node's heap). Reads go through the page
 *   cache above instead.
 */
export function pragmasFor(p: Pick<MachineProfile, 'totalMemBytes' | 'arch'>): DbPragmas {
  const kib = p.totalMemBytes / 1024;
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.floor(v)));
  return {
    cacheSizeKiB: clamp(kib / 256, 2 * 1024, 8 * 1024),
    writerCacheSizeKiB: clamp(kib / 1024, 1024, 2 * 1024),
    mmapSizeBytes: 0,
  };
}
