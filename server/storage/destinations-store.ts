/** Remote servers we send to (table `destinations`): backoff state and the transaction in flight. */
import type { Database, WriteTx } from './db.ts';

export interface DestinationRow {
  server_name: string;
  failures: number;
  retry_at: number;
  last_success_ts: number | null;
  failing_since: number | null;
  last_error: string | null;
  pending_txn: string | null;
}

export class DestinationsStore {
  constructor(private readonly db: Database) {}

  get(serverName: string, tx?: WriteTx): Promise<DestinationRow | undefined> {
    return (tx ?? this.db).get<DestinationRow>('SELECT * FROM destinations WHERE server_name = ? LIMIT 1', [serverName]);
  }

  all(): Promise<DestinationRow[]> {
    return this.db.all<DestinationRow>('SELECT * FROM destinations ORDER BY server_name');
  }

  async ensure(tx: WriteTx, serverName: string): Promise<void> {
    await tx.run('INSERT OR IGNORE INTO destinations (server_name) VALUES (?)', [serverName]);
  }

  async setPendingTxn(tx: WriteTx, serverName: string, txnId: string | null): Promise<void> {
    await tx.run('UPDATE destinations SET pending_txn = ? WHERE server_name = ?', [txnId, serverName]);
  }

  async markSuccess(tx: WriteTx, serverName: string, now: number): Promise<void> {
    await tx.run(
      'UPDATE destinations SET failures = 0, retry_at = 0, last_success_ts = ?, last_error = NULL, failing_since = NULL, pending_txn = NULL WHERE server_name = ?',
      [now, serverName],
    );
  }

  markFailure(serverName: string, failures: number, retryAt: number, error: string, now: number): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('INSERT OR IGNORE INTO destinations (server_name) VALUES (?)', [serverName]);
      await tx.run('UPDATE destinations SET failures = ?, retry_at = ?, last_error = ?, failing_since = coalesce(failing_since, ?) WHERE server_name = ?', [
        failures,
        retryAt,
        error.slice(0, 500),
        now,
        serverName,
      ]);
    });
  }

  /** Clears the backoff (the server talked to us, so it is up again). */
  resetBackoff(serverName: string): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('UPDATE destinations SET failures = 0, retry_at = 0 WHERE server_name = ? AND (failures > 0 OR retry_at > 0)', [serverName]);
    });
  }
}
