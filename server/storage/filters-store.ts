/** Stored /sync filters (table `user_filters`, POST /user/{userId}/filter). */
import type { Database } from './db.ts';

export class FiltersStore {
  constructor(private readonly db: Database) {}

  /** Stores a filter and returns its ID (per user, counting up from 0). */
  create(userId: string, json: string): Promise<number> {
    return this.db.write(async (tx) => {
      const row = await tx.get<{ m: number | null }>('SELECT max(filter_id) AS m FROM user_filters WHERE user_id = ?', [userId]);
      const id = (row?.m ?? -1) + 1;
      await tx.run('INSERT INTO user_filters (user_id, filter_id, json) VALUES (?, ?, ?)', [userId, id, json]);
      return id;
    });
  }

  async get(userId: string, filterId: number): Promise<string | undefined> {
    const row = await this.db.get<{ json: string }>('SELECT json FROM user_filters WHERE user_id = ? AND filter_id = ? LIMIT 1', [userId, filterId]);
    return row?.json;
  }
}
