/**
 * `hearth restore`: bring a backup back, on this machine or another one (an ODROID's backup
 * onto a Graviton). Restores into an empty (or new) data directory, or over a fresh install that
 * nobody has used yet; a directory holding a server in use is refused, nothing overwritten.
 */
import { parse, UsageError } from './args.ts';
import { resolve } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRestic } from '../appliance/backups/backup-job.ts';
import { listSnapshots, restoreSnapshot } from '../appliance/backups/restore.ts';
import { readPassphraseFile } from '../appliance/backups/secrets.ts';
import { DEFAULTS } from '../config/schema.ts';
import { formatBytes, printSnapshots, progressPrinter, resticDestination, REPO_OPTIONS, REPO_USAGE } from './backup-common.ts';

export const usage = `Usage: hearth restore --repo REPO --passphrase-file F [--snapshot ID|latest] --data-dir NEWDIR
       hearth restore --repo REPO --passphrase-file F --list

Restores a Hearth backup into NEWDIR (which must be empty, not exist yet, or hold a fresh
install nobody has used). Then start the server on it: same server name, signing keys,
users, rooms, messages and media. Messages sent after the backup was taken are not in it.

Options:
${REPO_USAGE}
  --snapshot ID        which backup (default latest); see --list
  --list               list the backups (date, size, server name) and exit
  --data-dir NEWDIR    where to restore to (default ./data)
  --json               machine-readable output
  -h, --help           show this help

S3 keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`;

const OPTIONS = {
  ...REPO_OPTIONS,
  snapshot: { type: 'string' },
  list: { type: 'boolean' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS, 'restore');
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (!values.repo) throw new UsageError('restore: --repo is required (see hearth restore --help)');
  if (!values['passphrase-file']) throw new UsageError('restore: --passphrase-file is required');
  const dataDir = resolve(values['data-dir'] ?? DEFAULTS.data_dir);
  const config = { ...DEFAULTS, data_dir: dataDir };
  const destination = resticDestination(config, values, null);
  const passphrase = readPassphraseFile(values['passphrase-file']);

  if (values.list) {
    const scratch = mkdtempSync(join(tmpdir(), 'hearth-restore-'));
    try {
      const snaps = await listSnapshots(makeRestic(scratch, destination, passphrase));
      if (values.json) console.log(JSON.stringify(snaps, null, 2));
      else printSnapshots(snaps);
      return 0;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  const printer = progressPrinter(values.json === true);
  const outcome = await restoreSnapshot({
    restic: makeRestic(dataDir, destination, passphrase),
    snapshot: values.snapshot ?? 'latest',
    dataDir,
    repo: destination.repo,
    trigger: 'cli',
    now: Date.now,
    passphrase,
    onProgress: printer.restore,
  });
  printer.end();
  if (values.json) {
    console.log(JSON.stringify(outcome));
    return 0;
  }
  const s = outcome.snapshot;
  console.log(
    `restored backup ${s.short_id} of ${outcome.serverName ?? 'unknown server'} (taken ${s.time}, ${formatBytes(s.size)}) into ${dataDir}`,
  );
  console.log(
    outcome.applied
      ? `start the server on it: hearth serve --data-dir ${dataDir}`
      : `a fresh install was running in ${dataDir}: restart it (systemctl restart hearth) to switch to the restored data`,
  );
  for (const w of outcome.warnings) console.log(`note: ${w}`);
  console.log(`NOTE: ${outcome.notice}`);
  return 0;
}
