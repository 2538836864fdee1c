/**
 * Signing keys of remote servers (tables `server_key_responses`, `server_verify_keys`) and this
 * server's retired keys (`own_old_signing_keys`).
 */
import type { Database, SqlValue } from './db.ts';

export interface VerifyKeyRow {
  server_name: string;
  key_id: string;
  public_key: string;
  valid_until_ts: number | null;
  expired_ts: number | null;
  fetched_ts: number;
}

export interface KeyResponseRow {
  server_name: string;
  json: string;
  valid_until_ts: number;
  fetched_ts: number;
}

export interface OwnOldKeyRow {
  key_id: string;
  public_key: string;
  expired_ts: number;
}

export class ServerKeysStore {
  constructor(private readonly db: Database) {}

  async keysOf(serverName: string): Promise<VerifyKeyRow[]> {
    return this.db.all<VerifyKeyRow>('SELECT * FROM server_verify_keys WHERE server_name = ?', [serverName]);
  }

  async response(serverName: string): Promise<KeyResponseRow | undefined> {
    return this.db.get<KeyResponseRow>('SELECT * FROM server_key_responses WHERE server_name = ? LIMIT 1', [serverName]);
  }

  /**
   * Stores a server's key response and its keys. A current key learnt earlier keeps its row but
   * takes the newer validity; an old key (expired_ts) replaces a current entry of the same ID.
   */
  saveResponse(
    serverName: string,
    rawJson: string | null,
    validUntilTs: number,
    fetchedTs: number,
    keys: ReadonlyArray<{ keyId: string; publicKey: string; validUntilTs: number | null; expiredTs: number | null }>,
  ): Promise<void> {
    return this.db.write(async (tx) => {
      if (rawJson !== null) {
        await tx.run(
          `INSERT INTO server_key_responses (server_name, json, valid_until_ts, fetched_ts) VALUES (?, ?, ?, ?)
           ON CONFLICT (server_name) DO UPDATE SET json = excluded.json, valid_until_ts = excluded.valid_until_ts, fetched_ts = excluded.fetched_ts
           WHERE excluded.valid_until_ts >= server_key_responses.valid_until_ts`,
          [serverName, rawJson, validUntilTs, fetchedTs],
        );
      }
      if (keys.length === 0) return;
      const params: SqlValue[] = [];
      for (const k of keys) params.push(serverName, k.keyId, k.publicKey, k.validUntilTs, k.expiredTs, fetchedTs);
      await tx.run(
        `INSERT INTO server_verify_keys (server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts) VALUES ` +
          keys.map(() => '(?, ?, ?, ?, ?, ?)').join(', ') +
          ` ON CONFLICT (server_name, key_id) DO UPDATE SET
              public_key = excluded.public_key,
              valid_until_ts = CASE WHEN excluded.expired_ts IS NOT NULL THEN server_verify_keys.valid_until_ts
                                    ELSE max(coalesce(server_verify_keys.valid_until_ts, 0), excluded.valid_until_ts) END,
              expired_ts = coalesce(excluded.expired_ts, server_verify_keys.expired_ts),
              fetched_ts = excluded.fetched_ts`,
        params,
      );
    });
  }

  // --- our own retired keys ---------------------------------------------------------------

  ownOldKeys(): Promise<OwnOldKeyRow[]> {
    return this.db.all<OwnOldKeyRow>('SELECT * FROM own_old_signing_keys ORDER BY expired_ts');
  }

  addOwnOldKey(keyId: string, publicKey: string, expiredTs: number): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('INSERT OR REPLACE INTO own_old_signing_keys (key_id, public_key, expired_ts) VALUES (?, ?, ?)', [keyId, publicKey, expiredTs]);
    });
  }
}
