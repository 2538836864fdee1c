/** Server-wide facts (table `server_meta`), e.g. the server name this database belongs to. */
import type { Database } from './db.ts';

export class MetaStore {
  constructor(private readonly db: Database) {}

  async get(key: string): Promise<string | undefined> {
    const row = await this.db.get<{ value: string }>('SELECT value FROM server_meta WHERE key = ? LIMIT 1', [key]);
    return row?.value;
  }

  set(key: string, value: string): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    });
  }

  /** Sets the value only if absent; returns the value now stored. */
  setIfAbsent(key: string, value: string): Promise<string> {
    return this.db.write(async (tx) => {
      await tx.run('INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [key, value]);
      const row = await tx.get<{ value: string }>('SELECT value FROM server_meta WHERE key = ? LIMIT 1', [key]);
      return row!.value;
    });
  }
}
