/**
 * Drives the restic binary (Debian package). restic does encryption (the repository password is
 * the owner's backup passphrase), deduplication, integrity checks and retention; this file only
 * runs it gently and reads its `--json` output.
 *
 * "Never stall the homeserver": restic runs at the lowest CPU priority (nice 19) and the lowest
 * best-effort I/O priority (ionice -c2 -n7 — not the idle class, which can starve a backup
 * forever on a busy SD card), with one Go scheduler thread (GOMAXPROCS=1), an eager garbage
 * collector and a soft heap limit (GOGC, GOMEMLIMIT) for bounded memory, two S3 connections,
 * and its temporary pack files on disk rather than in a tmpfs /tmp.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { BackupError, classifyResticError } from './errors.ts';
import { describeRepo, type Destination } from './destination.ts';

export interface ResticOptions {
  destination: Destination;
  /** The repository password (the owner's backup passphrase). */
  passphrase: string;
  /** restic's metadata cache (disposable). */
  cacheDir: string;
  /** Where restic writes temporary pack files before upload. */
  tmpDir: string;
  /** Cancels whatever runs (SIGTERM to restic). */
  signal?: AbortSignal;
  /** restic executable (tests may point elsewhere). */
  binary?: string;
  /** Environment to take AWS_* credentials from when none are configured. */
  env?: NodeJS.ProcessEnv;
}

export interface BackupProgress {
  percent: number;
  filesDone: number;
  totalFiles: number;
  bytesDone: number;
  totalBytes: number;
}

export interface BackupSummary {
  snapshotId: string;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  /** Bytes added to the repository by this backup (deduplicated, before compression). */
  dataAdded: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  /** restic exit code 3: some files could not be read (e.g. deleted mid-backup); snapshot made. */
  incomplete: boolean;
}

export interface ResticSnapshot {
  id: string;
  short_id: string;
  time: string;
  hostname: string;
  tags?: string[];
  paths: string[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Upper bounds so a hung connection cannot hold the backup lock forever (restic retries
 * transient errors itself). Generous: a first upload of a big media store over a home uplink
 * takes hours.
 */
const HOUR = 3600_000;
export const TIMEOUTS = { backup: 12 * HOUR, forget: 4 * HOUR, check: 4 * HOUR, restore: 12 * HOUR };

const PRIORITY_WRAPPERS: string[] = [];
if (existsSync('/usr/bin/ionice')) PRIORITY_WRAPPERS.push('/usr/bin/ionice', '-c', '2', '-n', '7', '-t');
if (existsSync('/usr/bin/nice')) PRIORITY_WRAPPERS.push('/usr/bin/nice', '-n', '19');

export class Restic {
  private readonly where: string;

  constructor(private readonly o: ResticOptions) {
    this.where = describeRepo(o.destination.repo);
  }

  private globalArgs(): string[] {
    const d = this.o.destination;
    const args = ['--repo', d.repo, '--cache-dir', this.o.cacheDir];
    if (d.repo.startsWith('s3:')) {
      args.push('-o', `s3.bucket-lookup=${d.bucketLookup}`);
      if (d.region) args.push('-o', `s3.region=${d.region}`);
      // Fewer parallel uploads: less memory, and a home uplink is saturated by two anyway.
      args.push('-o', 's3.connections=2');
    }
    if (d.caCert) args.push('--cacert', d.caCert);
    if (d.uploadLimitKiB > 0) args.push('--limit-upload', String(d.uploadLimitKiB));
    return args;
  }

  private childEnv(): NodeJS.ProcessEnv {
    const source = this.o.env ?? process.env;
    const env: NodeJS.ProcessEnv = {};
    // Only what restic needs: no HEARTH_* or other secrets of the server process.
    for (const k of ['PATH', 'HOME', 'LANG', 'TZ', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']) {
      if (source[k] !== undefined) env[k] = source[k];
    }
    const creds = this.o.destination.credentials;
    if (creds) {
      env.AWS_ACCESS_KEY_ID = creds.accessKeyId;
      env.AWS_SECRET_ACCESS_KEY = creds.secretAccessKey;
    } else {
      // Standard AWS_* variables when the owner configured no keys (AWS_CA_BUNDLE is left out:
      // restic does not use it, and --cacert is explicit).
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_DEFAULT_REGION', 'AWS_PROFILE', 'AWS_SHARED_CREDENTIALS_FILE']) {
        if (source[k] !== undefined) env[k] = source[k];
      }
    }
    env.RESTIC_PASSWORD = this.o.passphrase;
    env.GOMAXPROCS = '1';
    env.GOGC = '50';
    // Go ≥ 1.19 (Debian's restic 0.14 is built with 1.19): a soft heap limit, so the collector
    // works harder instead of growing past it on a 2 GB board.
    env.GOMEMLIMIT = '256MiB';
    env.TMPDIR = this.o.tmpDir;
    env.RESTIC_PROGRESS_FPS = '1';
    return env;
  }

  /**
   * Runs restic with `args`; resolves with its output. `onLine` sees stdout lines as they come
   * (JSON progress). Rejects with a classified BackupError unless `okCodes` includes the code.
   */
  run(args: string[], opts: { onLine?: (line: string) => void; okCodes?: number[]; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
    const binary = this.o.binary ?? 'restic';
    mkdirSync(this.o.tmpDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.o.cacheDir, { recursive: true, mode: 0o700 });
    const argv = [...PRIORITY_WRAPPERS, binary, ...this.globalArgs(), ...args];
    const okCodes = opts.okCodes ?? [0];
    return new Promise((resolve, reject) => {
      if (this.o.signal?.aborted) return reject(new BackupError('CANCELLED', 'cancelled'));
      const child = spawn(argv[0]!, argv.slice(1), { env: this.childEnv(), cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let pending = '';
      let timedOut = false;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (!opts.onLine) {
          stdout += chunk;
          return;
        }
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          stdout = line; // keep only the last line (the summary) — progress lines are many
          opts.onLine(line);
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        // Bounded: restic can print one line per unreadable file.
        stderr = (stderr + chunk).slice(-64 * 1024);
      });
      const kill = () => child.kill('SIGTERM');
      this.o.signal?.addEventListener('abort', kill, { once: true });
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            kill();
          }, opts.timeoutMs)
        : undefined;
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        this.o.signal?.removeEventListener('abort', kill);
        reject(
          e.code === 'ENOENT'
            ? new BackupError('RESTIC_MISSING', 'restic is not installed (apt install restic)')
            : new BackupError('RESTIC_FAILED', `cannot run restic: ${e.message}`),
        );
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        this.o.signal?.removeEventListener('abort', kill);
        if (pending && opts.onLine) {
          stdout = pending;
          opts.onLine(pending);
        }
        if (this.o.signal?.aborted) return reject(new BackupError('CANCELLED', 'cancelled'));
        if (timedOut) return reject(new BackupError('TIMEOUT', `${this.where} did not answer in time`));
        // `nice`/`ionice` report a missing restic as 127.
        if (code === 127 && /No such file|not found/i.test(stderr)) {
          return reject(new BackupError('RESTIC_MISSING', 'restic is not installed (apt install restic)'));
        }
        if (code !== null && okCodes.includes(code)) return resolve({ stdout, stderr, code });
        reject(classifyResticError(stderr, this.where, code));
      });
    });
  }

  /** 'ok' when the repository opens with this passphrase; 'missing' when there is none yet. */
  async probe(): Promise<'ok' | 'missing'> {
    try {
      await this.run(['cat', 'config', '--no-lock'], { timeoutMs: 120_000 });
      return 'ok';
    } catch (e) {
      if (e instanceof BackupError && e.code === 'NO_REPOSITORY') return 'missing';
      throw e;
    }
  }

  async init(): Promise<void> {
    await this.run(['init', '--repository-version', '2'], { timeoutMs: 120_000 });
  }

  /** Removes stale locks left by a killed run (restic only removes locks it knows are dead). */
  async unlock(): Promise<void> {
    await this.run(['unlock'], { timeoutMs: 120_000 });
  }

  async backup(
    cwd: string,
    o: { excludes: string[]; tags: string[]; host: string },
    onProgress?: (p: BackupProgress) => void,
  ): Promise<BackupSummary> {
    const args = ['backup', '--json', '--host', o.host];
    for (const t of o.tags) args.push('--tag', t);
    args.push('--exclude-caches');
    for (const x of o.excludes) args.push('--exclude', x);
    // `.` from inside the data directory: the snapshot's root is the data directory itself, so a
    // restore lands as a data directory wherever it is restored to.
    args.push('.');
    let summary: Record<string, unknown> | null = null;
    const res = await this.run(args, {
      cwd,
      timeoutMs: TIMEOUTS.backup,
      okCodes: [0, 3],
      onLine: (line) => {
        if (!line.startsWith('{')) return;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if (msg.message_type === 'status' && onProgress) {
          onProgress({
            percent: Number(msg.percent_done ?? 0),
            filesDone: Number(msg.files_done ?? 0),
            totalFiles: Number(msg.total_files ?? 0),
            bytesDone: Number(msg.bytes_done ?? 0),
            totalBytes: Number(msg.total_bytes ?? 0),
          });
        } else if (msg.message_type === 'summary') summary = msg;
      },
    });
    const s = summary as Record<string, unknown> | null;
    if (!s || typeof s.snapshot_id !== 'string') {
      throw new BackupError('RESTIC_FAILED', `the backup tool finished without making a snapshot: ${res.stderr.trim().split('\n').pop() ?? ''}`);
    }
    return {
      snapshotId: s.snapshot_id,
      filesNew: Number(s.files_new ?? 0),
      filesChanged: Number(s.files_changed ?? 0),
      filesUnmodified: Number(s.files_unmodified ?? 0),
      dataAdded: Number(s.data_added ?? 0),
      totalFilesProcessed: Number(s.total_files_processed ?? 0),
      totalBytesProcessed: Number(s.total_bytes_processed ?? 0),
      incomplete: res.code === 3,
    };
  }

  async snapshots(): Promise<ResticSnapshot[]> {
    const { stdout } = await this.run(['snapshots', '--json', '--no-lock'], { timeoutMs: 300_000 });
    const list = JSON.parse(stdout.trim() || '[]') as ResticSnapshot[] | null;
    return (list ?? []).sort((a, b) => a.time.localeCompare(b.time));
  }

  /** Full ID of `idOrLatest` among Hearth snapshots (tag `hearth`). */
  async resolveSnapshot(idOrLatest: string): Promise<ResticSnapshot> {
    const all = (await this.snapshots()).filter((s) => s.tags?.includes('hearth'));
    const found =
      idOrLatest === 'latest' ? all[all.length - 1] : all.find((s) => s.id === idOrLatest || s.id.startsWith(idOrLatest));
    if (!found) {
      throw new BackupError(
        'NO_SNAPSHOT',
        idOrLatest === 'latest' ? `there are no Hearth backups in ${this.where}` : `no Hearth backup with ID ${idOrLatest} in ${this.where}`,
      );
    }
    return found;
  }

  /** Restores `snapshotId` (or only the paths under `include`) into `target`, verifying content. */
  async restore(snapshotId: string, target: string, o: { include?: string[]; verify?: boolean } = {}): Promise<void> {
    const args = ['restore', snapshotId, '--target', target];
    for (const i of o.include ?? []) args.push('--include', i);
    if (o.verify) args.push('--verify');
    await this.run(args, { timeoutMs: TIMEOUTS.restore });
  }

  /** Bytes the snapshot occupies once restored. */
  async restoreSize(snapshotId: string): Promise<number> {
    const { stdout } = await this.run(['stats', '--json', '--no-lock', '--mode', 'restore-size', snapshotId], { timeoutMs: 300_000 });
    return Number((JSON.parse(stdout) as { total_size?: number }).total_size ?? 0);
  }

  /** Bytes the whole repository stores (after deduplication and compression). */
  async repoSize(): Promise<number> {
    const { stdout } = await this.run(['stats', '--json', '--no-lock', '--mode', 'raw-data'], { timeoutMs: 300_000 });
    return Number((JSON.parse(stdout) as { total_size?: number }).total_size ?? 0);
  }

  /**
   * Retention: forget snapshots outside the policy and prune the data only they used. Packs
   * holding both dropped database chunks and kept media are rewritten (re-uploaded) only once a
   * fifth of the repository is unused (restic's default is 5%): on a home uplink, re-uploading
   * media costs more than the storage it frees.
   */
  async forget(o: { host: string; daily: number; weekly: number; monthly: number }): Promise<void> {
    await this.run([
      'forget', '--prune', '--max-unused', '20%', '--host', o.host, '--tag', 'hearth', '--group-by', 'host',
      '--keep-daily', String(o.daily), '--keep-weekly', String(o.weekly), '--keep-monthly', String(o.monthly),
    ], { timeoutMs: TIMEOUTS.forget });
  }

  /** Structural check plus re-reading `subset` (e.g. "3/8") of the stored data. */
  async check(subset: string | null): Promise<RunResult> {
    const args = ['check'];
    if (subset) args.push(`--read-data-subset=${subset}`);
    return this.run(args, { timeoutMs: TIMEOUTS.check });
  }
}
