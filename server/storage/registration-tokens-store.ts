/** Registration tokens (table registration_tokens), managed by the admin (CLI, wizard). */
import type { Database, WriteTx } from './db.ts';

export interface RegistrationTokenRow {
  token: string;
  uses_allowed: number | null;
  pending: number;
  completed: number;
  expiry_ts: number | null;
  created_ts: number;
}

export class RegistrationTokensStore {
  constructor(private readonly db: Database) {}

  get(token: string): Promise<RegistrationTokenRow | undefined> {
    return this.db.get<RegistrationTokenRow>('SELECT * FROM registration_tokens WHERE token = ? LIMIT 1', [token]);
  }

  list(): Promise<RegistrationTokenRow[]> {
    return this.db.all<RegistrationTokenRow>('SELECT * FROM registration_tokens ORDER BY created_ts, token');
  }

  /** Inserts a token; false if it already exists. */
  async insert(tx: WriteTx, t: { token: string; usesAllowed: number | null; expiryTs: number | null; now: number }): Promise<boolean> {
    const r = await tx.run(
      'INSERT INTO registration_tokens (token, uses_allowed, expiry_ts, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [t.token, t.usesAllowed, t.expiryTs, t.now],
    );
    return r.changes > 0;
  }

  async delete(tx: WriteTx, token: string): Promise<boolean> {
    const r = await tx.run('DELETE FROM registration_tokens WHERE token = ?', [token]);
    return r.changes > 0;
  }

  /**
   * Reserves one use for a UIA session if the token is valid now: exists, not expired, and
   * pending + completed < uses_allowed. Atomic in one statement, so two sessions cannot both take
   * the last use.
   */
  async reserve(tx: WriteTx, token: string, now: number): Promise<boolean> {
    const r = await tx.run(
      `UPDATE registration_tokens SET pending = pending + 1
       WHERE token = ? AND (expiry_ts IS NULL OR expiry_ts > ?)
         AND (uses_allowed IS NULL OR pending + completed < uses_allowed)`,
      [token, now],
    );
    return r.changes > 0;
  }

  /** A reserved use became a registration. */
  async complete(tx: WriteTx, token: string): Promise<void> {
    await tx.run('UPDATE registration_tokens SET pending = max(pending - 1, 0), completed = completed + 1 WHERE token = ?', [token]);
  }

  /** A reserved use was abandoned (the UIA session expired). */
  async release(tx: WriteTx, token: string): Promise<void> {
    await tx.run('UPDATE registration_tokens SET pending = max(pending - 1, 0) WHERE token = ?', [token]);
  }

  /** Pending counts are only meaningful while this process's UIA sessions live: reset at start. */
  async resetPending(): Promise<void> {
    await this.db.write((tx) => tx.run('UPDATE registration_tokens SET pending = 0 WHERE pending != 0'));
  }
}
