/**
 * The recovery sheet the wizard asks the owner to save (download or print): everything needed
 * to bring this server back on new hardware when the box itself is gone. The passphrase cannot
 * be recovered — restic encrypts with it and Hearth keeps no other copy off the box.
 */
import { describeRepo, parseRepo } from './destination.ts';

export function recoverySheet(o: { serverName: string | null; repo: string; passphrase: string; now: number }): string {
  const p = parseRepo(o.repo);
  const where =
    p.kind === 's3'
      ? [`  Storage:    S3-compatible`, `  Endpoint:   ${p.endpoint}`, `  Bucket:     ${p.bucket}`, `  Folder:     ${p.prefix || '(none)'}`]
      : [`  Storage:    a local directory (USB disk)`, `  Directory:  ${p.path}`];
  return [
    'HEARTH BACKUP RECOVERY SHEET',
    '',
    `Server:       ${o.serverName ?? '(not named yet)'}`,
    `Created:      ${new Date(o.now).toISOString()}`,
    '',
    'Where the backups are:',
    ...where,
    `  Repository: ${o.repo}`,
    '  Access keys: as given to your storage provider (not on this sheet).',
    '',
    'Backup passphrase (keep it secret, keep it safe):',
    '',
    `  ${o.passphrase}`,
    '',
    'Without this passphrase the backups cannot be opened by anyone, including you:',
    'it cannot be recovered or reset.',
    '',
    'To restore on a new Hearth box: choose "Restore from a backup" on the setup',
    `wizard's first screen and enter the storage details (${describeRepo(o.repo)}) and this passphrase.`,
    'Or from a shell:',
    `  hearth restore --repo ${o.repo} --passphrase-file FILE --data-dir /var/lib/hearth`,
    '',
  ].join('\n');
}
