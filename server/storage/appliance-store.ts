/** The appliance's tables (migration 0005): wizard state, certificate attempts, system samples. */
import type { Database } from './db.ts';

export interface SetupRow {
  step: string;
  mode: 'new' | 'restore' | null;
  admin_localpart: string | null;
  admin_password_hash: string | null;
  admin_user_id: string | null;
  server_name: string | null;
  public_host: string | null;
  challenge: 'http-01' | 'dns-01' | null;
  acme_email: string | null;
  delegation_ok_ts: number | null;
  selftest_ok_ts: number | null;
  completed_ts: number | null;
  updated_ts: number;
}

export type SetupPatch = Partial<Omit<SetupRow, 'updated_ts'>>;

export interface CertAttemptRow {
  id: number;
  domain: string;
  reason: string;
  directory_url: string;
  challenge: string;
  started_ts: number;
  finished_ts: number | null;
  ok: number | null;
  error: string | null;
  serial: string | null;
  not_after_ts: number | null;
}

export interface SystemSampleRow {
  ts: number;
  cpu_load: number | null;
  mem_used: number | null;
  mem_total: number | null;
  temp_c: number | null;
  disk_used: number | null;
  disk_total: number | null;
}

const SETUP_COLUMNS = new Set([
  'step', 'mode', 'admin_localpart', 'admin_password_hash', 'admin_user_id', 'server_name', 'public_host',
  'challenge', 'acme_email', 'delegation_ok_ts', 'selftest_ok_ts', 'completed_ts',
]);

export class ApplianceStore {
  constructor(private readonly db: Database) {}

  async getSetup(): Promise<SetupRow> {
    const row = await this.db.get<SetupRow>('SELECT * FROM appliance_setup WHERE id = 1 LIMIT 1');
    return row ?? {
      step: 'welcome', mode: null, admin_localpart: null, admin_password_hash: null, admin_user_id: null,
      server_name: null, public_host: null, challenge: null, acme_email: null, delegation_ok_ts: null,
      selftest_ok_ts: null, completed_ts: null, updated_ts: 0,
    };
  }

  /** Updates the given columns (creating the row on first use). */
  patchSetup(patch: SetupPatch, now: number): Promise<void> {
    const keys = Object.keys(patch).filter((k) => SETUP_COLUMNS.has(k));
    const values = keys.map((k) => (patch as Record<string, string | number | null>)[k] ?? null);
    return this.db.write(async (tx) => {
      await tx.run('INSERT INTO appliance_setup (id, updated_ts) VALUES (1, ?) ON CONFLICT (id) DO NOTHING', [now]);
      if (keys.length === 0) return;
      await tx.run(`UPDATE appliance_setup SET ${keys.map((k) => `${k} = ?`).join(', ')}, updated_ts = ? WHERE id = 1`, [...values, now]);
    });
  }

  async startAttempt(a: { domain: string; reason: string; directoryUrl: string; challenge: string; now: number }): Promise<number> {
    return this.db.write(async (tx) => {
      const r = await tx.run(
        'INSERT INTO cert_attempts (domain, reason, directory_url, challenge, started_ts) VALUES (?, ?, ?, ?, ?)',
        [a.domain, a.reason, a.directoryUrl, a.challenge, a.now],
      );
      return r.lastID;
    });
  }

  finishAttempt(id: number, r: { ok: boolean; error?: string; serial?: string; notAfter?: number; now: number }): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('UPDATE cert_attempts SET finished_ts = ?, ok = ?, error = ?, serial = ?, not_after_ts = ? WHERE id = ?', [
        r.now, r.ok ? 1 : 0, r.error ?? null, r.serial ?? null, r.notAfter ?? null, id,
      ]);
    });
  }

  recentAttempts(domain: string, limit = 10): Promise<CertAttemptRow[]> {
    return this.db.all<CertAttemptRow>('SELECT * FROM cert_attempts WHERE domain = ? ORDER BY started_ts DESC, id DESC LIMIT ?', [domain, limit]);
  }

  lastSuccess(domain: string): Promise<CertAttemptRow | undefined> {
    return this.db.get<CertAttemptRow>('SELECT * FROM cert_attempts WHERE domain = ? AND ok = 1 ORDER BY finished_ts DESC LIMIT 1', [domain]);
  }

  /** Failed attempts since the last success (for retry backoff). */
  async failuresSinceSuccess(domain: string): Promise<number> {
    const row = await this.db.get<{ n: number }>(
      `SELECT count(*) AS n FROM cert_attempts WHERE domain = ? AND ok = 0
         AND started_ts > COALESCE((SELECT max(started_ts) FROM cert_attempts WHERE domain = ? AND ok = 1), 0)`,
      [domain, domain],
    );
    return row?.n ?? 0;
  }

  addSample(s: SystemSampleRow, keepSinceTs: number): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run(
        'INSERT OR REPLACE INTO system_samples (ts, cpu_load, mem_used, mem_total, temp_c, disk_used, disk_total) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [s.ts, s.cpu_load, s.mem_used, s.mem_total, s.temp_c, s.disk_used, s.disk_total],
      );
      await tx.run('DELETE FROM system_samples WHERE ts < ?', [keepSinceTs]);
    });
  }

  samplesSince(ts: number): Promise<SystemSampleRow[]> {
    return this.db.all<SystemSampleRow>('SELECT * FROM system_samples WHERE ts >= ? ORDER BY ts', [ts]);
  }
}
