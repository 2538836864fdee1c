/** Profiles of local users: displayname and avatar_url columns of the `users` table. */
import type { Database } from './db.ts';

export interface ProfileRow {
  displayname: string | null;
  avatar_url: string | null;
  deactivated: number;
}

export class ProfileStore {
  constructor(private readonly db: Database) {}

  get(userId: string): Promise<ProfileRow | undefined> {
    return this.db.get<ProfileRow>('SELECT displayname, avatar_url, deactivated FROM users WHERE user_id = ? LIMIT 1', [userId]);
  }

  async set(userId: string, field: 'displayname' | 'avatar_url', value: string | null): Promise<boolean> {
    const column = field === 'displayname' ? 'displayname' : 'avatar_url';
    return this.db.write(async (tx) => (await tx.run(`UPDATE users SET ${column} = ? WHERE user_id = ?`, [value, userId])).changes === 1);
  }

  /**
   * Local users whose ID or display name contains `term` (case-insensitive), among `candidates`
   * when given (user directory: users sharing a room or in public rooms).
   */
  search(term: string, limit: number): Promise<Array<{ user_id: string; displayname: string | null; avatar_url: string | null }>> {
    const like = `%${term.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
    return this.db.all(
      `SELECT user_id, displayname, avatar_url FROM users
        WHERE deactivated = 0 AND (user_id LIKE ? ESCAPE '\\' OR displayname LIKE ? ESCAPE '\\')
        ORDER BY user_id LIMIT ?`,
      [like, like, limit],
    );
  }
}
