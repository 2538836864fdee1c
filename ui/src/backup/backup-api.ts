// Calls to the backup API (/_hearth/api/backup/*): with the setup token while the wizard runs,
// with the admin's Matrix session on the dashboard. Errors carry the server's plain message.
import { ApiError, authHeaders, request } from '../lib/api';

export type BackupAuth = 'setup' | 'admin';

export async function backupApi<T>(auth: BackupAuth, method: string, path: string, body?: unknown): Promise<T> {
  try {
    return await request<T>(method, `/_hearth/api/backup${path}`, body, authHeaders(auth));
  } catch (e) {
    // restic and the S3 client answer in lower case; the panel shows whole sentences.
    if (e instanceof ApiError && e.status !== 0) {
      throw new ApiError(e.status, e.errcode, e.message.charAt(0).toUpperCase() + e.message.slice(1), e.body);
    }
    throw e;
  }
}

/** The destination form, as the API takes it. */
export interface DestinationForm {
  type: 's3' | 'local';
  endpoint: string;
  region: string;
  bucket: string;
  prefix: string;
  access_key_id: string;
  secret_access_key: string;
  path: string;
}

export function emptyDestination(): DestinationForm {
  return { type: 's3', endpoint: '', region: '', bucket: '', prefix: 'hearth', access_key_id: '', secret_access_key: '', path: '/media/usb/hearth-backups' };
}

/** Only the fields of the chosen kind (empty ones left out: keys then come from the environment). */
export function destinationBody(d: DestinationForm): Record<string, string> {
  const pick = (keys: (keyof DestinationForm)[]) => Object.fromEntries(keys.filter((k) => d[k]).map((k) => [k, d[k].trim()]));
  return d.type === 'local' ? { type: 'local', path: d.path.trim() } : { type: 's3', ...pick(['endpoint', 'region', 'bucket', 'prefix', 'access_key_id', 'secret_access_key']) };
}

export interface JobProgress {
  phase: 'snapshot' | 'upload' | 'retention' | 'check' | 'drill' | 'done';
  percent: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface BackupJob {
  run_id: number | null;
  started_ts: number;
  progress: JobProgress;
  finished: boolean;
  error: string | null;
}

export interface RunView {
  run_id: number;
  kind: 'backup' | 'check' | 'restore';
  trigger: string;
  status: 'running' | 'ok' | 'warning' | 'failed' | 'interrupted';
  started_ts: number;
  finished_ts: number | null;
  error: string | null;
  snapshot_id: string | null;
  snapshot_ts: number | null;
  bytes: number | null;
  bytes_added: number | null;
  repo_bytes: number | null;
  drill_status: 'ok' | 'failed' | null;
  drill_detail: string | null;
}

export interface BackupStatus {
  configured: boolean;
  destination: { repo: string; description: string } | null;
  schedule: string;
  retention: { daily: number; weekly: number; monthly: number };
  from_config: string[];
  next_run_ts: number | null;
  last_backup: RunView | null;
  last_attempt: RunView | null;
  size_bytes: number | null;
  drill: { status: 'ok' | 'failed'; detail: string; ts: number } | null;
  last_check: RunView | null;
  restored_from: { snapshot_id: string; snapshot_ts: number; restored_ts: number } | null;
  job: BackupJob | null;
  history: RunView[];
}

export const PHASES: Record<string, string> = {
  snapshot: 'Copying the database',
  upload: 'Encrypting and uploading',
  retention: 'Removing old backups',
  check: 'Checking stored data',
  drill: 'Test-restoring the database',
  done: 'Done',
  checking: 'Opening the backup',
  downloading: 'Downloading and decrypting',
  verifying: 'Verifying',
  preparing: 'Preparing the database',
  switching: 'Switching over',
};

export function downloadText(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
