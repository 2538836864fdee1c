/**
 * System facts for the dashboard: board, CPU load, temperature, memory, disk, uptime. Read on a
 * timer, never on a request path (requests get the cached snapshot), and only with asynchronous
 * reads: several systeminformation calls shell out with execSync on Linux, which would freeze
 * every request, so those facts come straight from /proc, /sys and statfs(2). One sample every 5 minutes goes to SQLite for the 24-hour charts
 * (288 rows a day, pruned), so charts survive a restart. Missing values (no temperature sensor
 * in a VM, CPU speed 0) stay null rather than being invented.
 */
import os from 'node:os';
import type { ApplianceStore, SystemSampleRow } from '../storage/appliance-store.ts';
import type { Logger } from '../logging.ts';

export interface SystemSnapshot {
  ts: number;
  model: string;
  board: string;
  os: string;
  arch: string;
  cpus: number;
  cpuLoad: number | null;
  tempC: number | null;
  memUsed: number;
  memTotal: number;
  diskUsed: number | null;
  diskTotal: number | null;
  diskMount: string | null;
  uptimeS: number;
  hearthUptimeS: number;
}

export const SAMPLE_EVERY_MS = 5 * 60_000;
const DAY_MS = 24 * 3600_000;

export class SystemInfo {
  private snapshot: SystemSnapshot | null = null;
  private osText: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sampling: Promise<void> | null = null;
  private cpuTimes: CpuTimes | null = null;

  constructor(
    private readonly o: {
      dataDir: string;
      store: ApplianceStore;
      log: Logger;
      now: () => number;
      startedAt: number;
      machine: { model: string; board: string } | null;
    },
  ) {}

  /** The latest snapshot (cheap values filled in live when no sample was taken yet). */
  current(): SystemSnapshot {
    const now = this.o.now();
    if (this.snapshot) return { ...this.snapshot, uptimeS: Math.floor(os.uptime()), hearthUptimeS: Math.floor((now - this.o.startedAt) / 1000) };
    return {
      ts: now,
      model: this.o.machine?.model ?? 'unknown',
      board: this.o.machine?.board ?? 'generic',
      os: `${os.type()} ${os.release()}`,
      arch: os.arch(),
      cpus: os.cpus().length,
      cpuLoad: null,
      tempC: null,
      memUsed: os.totalmem() - os.freemem(),
      memTotal: os.totalmem(),
      diskUsed: null,
      diskTotal: null,
      diskMount: null,
      uptimeS: Math.floor(os.uptime()),
      hearthUptimeS: Math.floor((now - this.o.startedAt) / 1000),
    };
  }

  history(): Promise<SystemSampleRow[]> {
    return this.o.store.samplesSince(this.o.now() - DAY_MS);
  }

  /**
   * CPU busy percentage since the previous sample (the first one measures over half a second),
   * from /proc/stat: 100 × (1 − idle delta / total delta), idle counting iowait as si does.
   */
  private async cpuLoad(): Promise<number | null> {
    const prev = this.cpuTimes ?? (await readCpuTimes());
    if (!this.cpuTimes) await new Promise((r) => setTimeout(r, 500));
    const cur = await readCpuTimes();
    this.cpuTimes = cur;
    if (!prev || !cur || cur.total <= prev.total) return null;
    const busy = 1 - (cur.idle - prev.idle) / (cur.total - prev.total);
    return Math.round(Math.min(1, Math.max(0, busy)) * 1000) / 10;
  }

  /** Takes one sample now (also stored for the charts). Concurrent calls share one sample. */
  sample(): Promise<void> {
    this.sampling ??= this.takeSample().finally(() => {
      this.sampling = null;
    });
    return this.sampling;
  }

  private async takeSample(): Promise<void> {
    const [load, temp, mem, disk] = await Promise.all([
      // Not si.currentLoad() nor si.osInfo(): on Linux they run `cat /proc/stat` and `hostname`
      // with execSync, freezing every request while they run.
      this.cpuLoad(),
      // Not si.cpuTemperature(): on Linux it falls back to execSync('sensors'), which blocked the
      // event loop for ~0.6 s per sample here. Boards (the XU4 included) expose thermal zones.
      readThermalZones(),
      // Not si.mem(): it reads /proc/meminfo like readMemInfo, but importing systeminformation
      // (~320 KB of code) for it cost ~1.5 MB of idle RSS from the first sample on (issue 2).
      readMemInfo(),
      // Not si.fsSize(): it runs `df` with execSync. statfs(2) answers the same question.
      diskOf(this.o.dataDir),
    ]);
    this.osText ??= (await readOsRelease()) ?? `${os.type()} ${os.release()}`;
    const now = this.o.now();
    const tempC = temp;
    const memUsed = mem ? mem.active : os.totalmem() - os.freemem();
    this.snapshot = {
      ...this.current(),
      ts: now,
      os: this.osText,
      cpuLoad: load,
      tempC,
      memUsed,
      memTotal: mem?.total ?? os.totalmem(),
      diskUsed: disk?.used ?? null,
      diskTotal: disk?.size ?? null,
      diskMount: disk?.mount ?? null,
    };
    const s = this.snapshot;
    await this.o.store.addSample(
      { ts: now, cpu_load: s.cpuLoad, mem_used: s.memUsed, mem_total: s.memTotal, temp_c: s.tempC, disk_used: s.diskUsed, disk_total: s.diskTotal },
      now - DAY_MS,
    );
  }

  /** Samples after `firstDelayMs`, then every SAMPLE_EVERY_MS, until `signal` aborts. */
  start(signal: AbortSignal, firstDelayMs = 15_000): void {
    const run = () => {
      this.sample().catch((e) => this.o.log.debug({ err: e }, 'system sample failed'));
    };
    const first = setTimeout(() => {
      run();
      this.timer = setInterval(run, SAMPLE_EVERY_MS);
      this.timer.unref();
    }, firstDelayMs);
    first.unref();
    signal.addEventListener('abort', () => {
      clearTimeout(first);
      if (this.timer) clearInterval(this.timer);
    }, { once: true });
  }
}

/** The hottest thermal zone in °C (/sys/class/thermal), or null where there is none (VMs). */
export async function readThermalZones(root = '/sys/class/thermal'): Promise<number | null> {
  const { readdir, readFile } = await import('node:fs/promises');
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => n.startsWith('thermal_zone'));
  } catch {
    return null;
  }
  const temps = await Promise.all(
    names.map((n) =>
      readFile(`${root}/${n}/temp`, 'utf8')
        .then((t) => Number(t.trim()) / 1000)
        .catch(() => NaN),
    ),
  );
  const valid = temps.filter((t) => Number.isFinite(t) && t > 0 && t < 150);
  return valid.length ? Math.round(Math.max(...valid) * 10) / 10 : null;
}

/**
 * Size and use of the file system holding `dir`, and its mount point (the longest mount point in
 * /proc/self/mounts that prefixes it), like `df DIR`; null when statfs fails. "Used" counts
 * blocks not free (root-reserved blocks included), as df does.
 */
export async function diskOf(dir: string, mountsFile = '/proc/self/mounts'): Promise<{ size: number; used: number; mount: string } | null> {
  const { readFile, statfs } = await import('node:fs/promises');
  const { resolve } = await import('node:path');
  dir = resolve(dir);
  try {
    const st = await statfs(dir);
    const mounts = await readFile(mountsFile, 'utf8').catch(() => '');
    // Fields are space-separated; spaces inside a mount point are written as \040.
    const mount =
      mounts
        .split('\n')
        .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
        .filter((m): m is string => !!m && (dir === m || dir.startsWith(m.endsWith('/') ? m : `${m}/`)))
        .sort((a, b) => b.length - a.length)[0] ?? '/';
    return { size: st.blocks * st.bsize, used: (st.blocks - st.bfree) * st.bsize, mount };
  } catch {
    return null;
  }
}

/**
 * Total memory and memory in use from /proc/meminfo, in bytes, as systeminformation's mem()
 * reported them for the dashboard: in use ("active") = MemTotal − MemAvailable, where the kernel
 * has no MemAvailable (before 3.14) MemFree + Buffers + Cached + Slab count as available. Null
 * without a readable MemTotal (off Linux).
 */
export async function readMemInfo(file = '/proc/meminfo'): Promise<{ total: number; active: number } | null> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(file, 'utf8').catch(() => '');
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : null;
  };
  const total = kb('MemTotal');
  if (!total) return null;
  const available = kb('MemAvailable') ?? (kb('MemFree') ?? 0) + (kb('Buffers') ?? 0) + (kb('Cached') ?? 0) + (kb('Slab') ?? 0);
  return { total, active: total - available };
}

interface CpuTimes {
  idle: number;
  total: number;
}

/** The aggregate "cpu" line of /proc/stat (jiffies); null off Linux. */
export async function readCpuTimes(file = '/proc/stat'): Promise<CpuTimes | null> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(file, 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  // user nice system idle iowait irq softirq steal (guest time is already inside user/nice).
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return null;
  return { idle: f[3]! + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
}

/** "Debian GNU/Linux 13 (trixie)" from os-release; null when there is none. */
export async function readOsRelease(files = ['/etc/os-release', '/usr/lib/os-release']): Promise<string | null> {
  const { readFile } = await import('node:fs/promises');
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => null);
    const m = text && /^PRETTY_NAME=(?:"([^"]*)"|(.*))$/m.exec(text);
    if (m) return (m[1] ?? m[2] ?? '').trim() || null;
  }
  return null;
}
