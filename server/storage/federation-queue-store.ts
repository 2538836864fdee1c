/**
 * The federation outbox (`federation_outbox`) and the record of inbound transactions already
 * processed (`federation_inbound_txns`).
 */
import type { Database, SqlValue, WriteTx } from './db.ts';

export interface OutboxRow {
  id: number;
  destination: string;
  kind: 'pdu' | 'edu';
  event_id: string | null;
  json: string | null;
  edu_key: string | null;
  txn_id: string | null;
  /** PDUs: the event JSON from `events` (NULL if the event is gone). */
  event_json: string | null;
}

const CHUNK = 400;

export class FederationQueueStore {
  constructor(private readonly db: Database) {}

  // --- outbox -------------------------------------------------------------------------------

  async enqueuePdu(tx: WriteTx, destinations: readonly string[], eventId: string, now: number): Promise<void> {
    for (let i = 0; i < destinations.length; i += CHUNK) {
      const part = destinations.slice(i, i + CHUNK);
      const params: SqlValue[] = [];
      for (const d of part) params.push(d, 'pdu', eventId, now);
      await tx.run(
        'INSERT INTO federation_outbox (destination, kind, event_id, created_ts) VALUES ' + part.map(() => '(?, ?, ?, ?)').join(', '),
        params,
      );
      await tx.run(
        'INSERT OR IGNORE INTO destinations (server_name) VALUES ' + part.map(() => '(?)').join(', '),
        [...part],
      );
    }
  }

  /** Queues an EDU; with `key`, a queued EDU of the same key not yet in a transaction is replaced. */
  async enqueueEdu(tx: WriteTx, destination: string, edu: { edu_type: string; content: unknown }, key: string | null, now: number): Promise<void> {
    if (key !== null) {
      await tx.run('DELETE FROM federation_outbox WHERE destination = ? AND edu_key = ? AND txn_id IS NULL', [destination, key]);
    }
    await tx.run('INSERT INTO federation_outbox (destination, kind, json, edu_key, created_ts) VALUES (?, ?, ?, ?, ?)', [
      destination,
      'edu',
      JSON.stringify(edu),
      key,
      now,
    ]);
    await tx.run('INSERT OR IGNORE INTO destinations (server_name) VALUES (?)', [destination]);
  }

  async destinationsWithWork(): Promise<string[]> {
    const rows = await this.db.all<{ destination: string }>('SELECT DISTINCT destination FROM federation_outbox');
    return rows.map((r) => r.destination);
  }

  /** Queued rows per destination. */
  async countsByDestination(): Promise<Map<string, number>> {
    const rows = await this.db.all<{ destination: string; n: number }>('SELECT destination, count(*) AS n FROM federation_outbox GROUP BY destination');
    return new Map(rows.map((r) => [r.destination, r.n]));
  }

  async count(destination: string): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT count(*) AS n FROM federation_outbox WHERE destination = ?', [destination]);
    return row?.n ?? 0;
  }

  /**
   * Assigns the oldest unassigned rows (at most `maxPdus` PDUs and `maxEdus` EDUs) to `txnId`.
   * Returns how many rows were claimed.
   */
  async claim(tx: WriteTx, destination: string, txnId: string, maxPdus: number, maxEdus: number): Promise<number> {
    const a = await tx.run(
      `UPDATE federation_outbox SET txn_id = ? WHERE id IN (
         SELECT id FROM federation_outbox WHERE destination = ? AND kind = 'pdu' AND txn_id IS NULL ORDER BY id LIMIT ?)`,
      [txnId, destination, maxPdus],
    );
    const b = await tx.run(
      `UPDATE federation_outbox SET txn_id = ? WHERE id IN (
         SELECT id FROM federation_outbox WHERE destination = ? AND kind = 'edu' AND txn_id IS NULL ORDER BY id LIMIT ?)`,
      [txnId, destination, maxEdus],
    );
    return a.changes + b.changes;
  }

  txnRows(destination: string, txnId: string): Promise<OutboxRow[]> {
    return this.db.all<OutboxRow>(
      `SELECT o.id, o.destination, o.kind, o.event_id, o.json, o.edu_key, o.txn_id, e.json AS event_json
         FROM federation_outbox o LEFT JOIN events e ON e.event_id = o.event_id
        WHERE o.destination = ? AND o.txn_id = ? ORDER BY o.id`,
      [destination, txnId],
    );
  }

  async deleteTxn(tx: WriteTx, destination: string, txnId: string): Promise<void> {
    await tx.run('DELETE FROM federation_outbox WHERE destination = ? AND txn_id = ?', [destination, txnId]);
  }

  // --- inbound transactions -----------------------------------------------------------------

  async inboundResponse(origin: string, txnId: string): Promise<string | undefined> {
    const row = await this.db.get<{ response: string }>('SELECT response FROM federation_inbound_txns WHERE origin = ? AND txn_id = ? LIMIT 1', [
      origin,
      txnId,
    ]);
    return row?.response;
  }

  saveInbound(origin: string, txnId: string, response: string, now: number): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('INSERT OR REPLACE INTO federation_inbound_txns (origin, txn_id, response, received_ts) VALUES (?, ?, ?, ?)', [
        origin,
        txnId,
        response,
        now,
      ]);
    });
  }

  pruneInbound(before: number): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('DELETE FROM federation_inbound_txns WHERE received_ts < ?', [before]);
    });
  }
}
