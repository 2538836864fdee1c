/** OpenID tokens (table openid_tokens, migration 0008-federation-p2): opaque, short-lived, user-bound. */
import type { Database } from './db.ts';

export class OpenIdStore {
  constructor(private readonly db: Database) {}

  /** Stores a token; expired ones are swept in the same job (there are never many). */
  insert(token: string, userId: string, expiresTs: number, now: number): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('DELETE FROM openid_tokens WHERE expires_ts < ?', [now]);
      await tx.run('INSERT INTO openid_tokens (token, user_id, expires_ts) VALUES (?, ?, ?)', [token, userId, expiresTs]);
    });
  }

  /** The owner of a token still valid at `now`. */
  async userOf(token: string, now: number): Promise<string | undefined> {
    const row = await this.db.get<{ user_id: string }>('SELECT user_id FROM openid_tokens WHERE token = ? AND expires_ts >= ? LIMIT 1', [token, now]);
    return row?.user_id;
  }
}
