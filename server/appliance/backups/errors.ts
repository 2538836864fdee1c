/**
 * What can go wrong with a backup or restore, as messages an owner can act on. restic's own
 * stderr is classified here so the wizard, the dashboard and the CLI all say the same thing.
 */

export type BackupErrorCode =
  | 'WRONG_PASSPHRASE'
  | 'NO_BUCKET'
  | 'NO_REPOSITORY'
  | 'UNREACHABLE'
  | 'TLS'
  | 'ACCESS_DENIED'
  | 'TIMEOUT'
  | 'BUSY'
  | 'NOT_CONFIGURED'
  | 'BAD_DESTINATION'
  | 'SCHEMA_TOO_NEW'
  | 'NOT_A_HEARTH_BACKUP'
  | 'NO_SNAPSHOT'
  | 'VERIFY_FAILED'
  | 'TARGET_NOT_EMPTY'
  | 'NO_SPACE'
  | 'RESTIC_MISSING'
  | 'CANCELLED'
  | 'RESTIC_FAILED';

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The last `Fatal:` line restic printed, or its last non-empty line. */
export function resticFatalLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const fatal = lines.filter((l) => l.startsWith('Fatal:')).pop();
  return (fatal ?? lines.pop() ?? '').replace(/^Fatal:\s*/, '');
}

/**
 * Turns a failed restic run into a BackupError. `where` is the repository as shown to the
 * owner (never with credentials: those travel in the environment, not the repository string).
 */
export function classifyResticError(stderr: string, where: string, exitCode: number | null): BackupError {
  const s = stderr;
  if (/wrong password or no key found/i.test(s)) {
    return new BackupError('WRONG_PASSPHRASE', `wrong passphrase: it does not open the backup at ${where}`);
  }
  if (/bucket does not exist|NoSuchBucket/i.test(s)) {
    return new BackupError('NO_BUCKET', `the bucket does not exist: ${where} (check the bucket name, endpoint and region)`);
  }
  if (/x509|certificate|tls: /i.test(s)) {
    return new BackupError('TLS', `cannot connect securely to ${where}: ${resticFatalLine(s)}`);
  }
  if (/connection refused|no such host|network is unreachable|no route to host|i\/o timeout|connection reset|server misbehaving|dial tcp/i.test(s)) {
    return new BackupError('UNREACHABLE', `cannot reach ${where}: ${resticFatalLine(s).replace(/^.*?: (dial tcp)/, '$1')}`);
  }
  if (/Access Denied|InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|Forbidden|403/i.test(s)) {
    return new BackupError('ACCESS_DENIED', `access denied by ${where}: check the access key and secret`);
  }
  if (/unable to open config file|specified key does not exist|does not exist|Is there a repository at the following location/i.test(s)) {
    return new BackupError('NO_REPOSITORY', `no backup found at ${where}`);
  }
  if (/repository is already locked/i.test(s)) {
    return new BackupError('BUSY', `the backup repository at ${where} is locked by another operation; try again later`);
  }
  if (/no space left on device/i.test(s)) {
    return new BackupError('NO_SPACE', `no space left while working on ${where}`);
  }
  if (/no matching ID found|no snapshot found|invalid id/i.test(s)) {
    return new BackupError('NO_SNAPSHOT', `snapshot not found in ${where}`);
  }
  const line = resticFatalLine(s) || `restic exited with code ${exitCode}`;
  return new BackupError('RESTIC_FAILED', `backup tool failed on ${where}: ${line}`);
}
