/** Local user accounts (table `users`). */
import type { Database, WriteTx } from './db.ts';

export interface UserRow {
  user_id: string;
  localpart: string;
  password_hash: string | null;
  is_admin: number;
  deactivated: number;
  displayname: string | null;
  avatar_url: string | null;
  created_ts: number;
}

export class UserExistsError extends Error {}

export class UsersStore {
  constructor(private readonly db: Database) {}

  getByUserId(userId: string): Promise<UserRow | undefined> {
    return this.db.get<UserRow>('SELECT * FROM users WHERE user_id = ? LIMIT 1', [userId]);
  }

  getByLocalpart(localpart: string): Promise<UserRow | undefined> {
    return this.db.get<UserRow>('SELECT * FROM users WHERE localpart = ? LIMIT 1', [localpart]);
  }

  async count(): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT count(*) AS n FROM users');
    return row?.n ?? 0;
  }

  /** Inserts a user inside an existing write transaction (registration adds devices etc. alongside). */
  async insert(
    tx: WriteTx,
    u: { userId: string; localpart: string; passwordHash: string | null; admin: boolean; displayname?: string | null; now: number },
  ): Promise<void> {
    const existing = await tx.get('SELECT 1 FROM users WHERE localpart = ? LIMIT 1', [u.localpart]);
    if (existing) throw new UserExistsError(`user ${u.userId} already exists`);
    await tx.run(
      'INSERT INTO users (user_id, localpart, password_hash, is_admin, displayname, created_ts) VALUES (?, ?, ?, ?, ?, ?)',
      [u.userId, u.localpart, u.passwordHash, u.admin ? 1 : 0, u.displayname ?? u.localpart, u.now],
    );
  }

  create(u: { userId: string; localpart: string; passwordHash: string | null; admin: boolean; now: number }): Promise<void> {
    return this.db.write((tx) => this.insert(tx, u));
  }

  setPasswordHash(userId: string, hash: string): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('UPDATE users SET password_hash = ? WHERE user_id = ?', [hash, userId]);
    });
  }

  /** Local accounts by creation time, for the dashboard's user list. */
  list(limit = 500, offset = 0): Promise<Pick<UserRow, 'user_id' | 'localpart' | 'is_admin' | 'deactivated' | 'displayname' | 'created_ts'>[]> {
    return this.db.all(
      'SELECT user_id, localpart, is_admin, deactivated, displayname, created_ts FROM users ORDER BY created_ts, user_id LIMIT ? OFFSET ?',
      [limit, offset],
    );
  }
}

/** Account changes inside a caller's transaction (accounts area: password change, deactivation). */
export async function setPasswordHashTx(tx: WriteTx, userId: string, hash: string | null): Promise<void> {
  await tx.run('UPDATE users SET password_hash = ? WHERE user_id = ?', [hash, userId]);
}

/** Spec: a deactivated account can never log in again; its password is wiped. */
export async function markDeactivatedTx(tx: WriteTx, userId: string): Promise<boolean> {
  const r = await tx.run('UPDATE users SET deactivated = 1, password_hash = NULL WHERE user_id = ? AND deactivated = 0', [userId]);
  return r.changes > 0;
}
