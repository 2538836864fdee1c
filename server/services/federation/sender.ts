/**
 * The outbound queue (server-server-api "Transactions"): PDUs and EDUs are queued per
 * destination in SQLite inside the same transaction as the event or update they carry, and
 * delivered as PUT /send/{txnId} transactions of at most 50 PDUs and 100 EDUs, one transaction
 * in flight per destination ("must wait and retry for a 200 OK response before sending a
 * transaction with a different txnId").
 *
 * A transaction's rows and ID are recorded before sending; a retry (after a failure or a
 * restart) resends the same rows under the same ID, so the receiver deduplicates it. Failures
 * back off exponentially (with jitter) up to `federation_backoff_max_ms`; a destination that
 * contacts us is retried at once.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Database, WriteTx } from '../../storage/db.ts';
import type { Logger } from '../../logging.ts';
import type { FederationQueueStore } from '../../storage/federation-queue-store.ts';
import type { DestinationsStore } from '../../storage/destinations-store.ts';
import type { FederationClient } from './client.ts';
import { FederationError } from './client.ts';

export const MAX_PDUS_PER_TXN = 50;
export const MAX_EDUS_PER_TXN = 100;
const BASE_BACKOFF_MS = 1000;

export interface SenderDeps {
  db: Database;
  queue: FederationQueueStore;
  destinations: DestinationsStore;
  client: FederationClient;
  log: Logger;
  now: () => number;
  serverName: () => string;
  backoffMaxMs: () => number;
  shutdown: AbortSignal;
}

export interface Edu {
  edu_type: string;
  content: unknown;
}

export class FederationSender {
  private readonly running = new Set<string>();
  private readonly again = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Destinations currently backing off (so remote contact can reset them without a query). */
  private readonly backingOff = new Set<string>();
  private stopped = false;
  /** Delivered-transaction observers (tests, metrics). */
  readonly onDelivered: Array<(destination: string, pdus: number, edus: number) => void> = [];

  /**
   * Aborts transactions in flight at shutdown. Each request listens on it, so with many
   * destinations busy at once it has many listeners: that is expected, not a leak.
   */
  private readonly inflight = new AbortController();

  constructor(private readonly d: SenderDeps) {
    setMaxListeners(0, this.inflight.signal);
    d.shutdown.addEventListener('abort', () => this.stop(), { once: true });
  }

  /** Resumes every destination with queued work (after a restart). */
  async start(): Promise<void> {
    for (const dest of await this.d.queue.destinationsWithWork()) this.kick(dest);
  }

  stop(): void {
    this.stopped = true;
    this.inflight.abort();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Queues a PDU for `destinations` inside a write job; delivery starts after the commit. */
  async queuePdu(tx: WriteTx, destinations: Iterable<string>, eventId: string): Promise<void> {
    const me = this.d.serverName();
    const list = [...new Set(destinations)].filter((x) => x !== me);
    if (list.length === 0) return;
    await this.d.queue.enqueuePdu(tx, list, eventId, this.d.now());
    tx.afterCommit(() => list.forEach((x) => this.kick(x)));
  }

  /** Queues an EDU; `key` makes a newer EDU replace a queued one (typing, presence…). */
  async queueEdu(tx: WriteTx, destination: string, edu: Edu, key: string | null = null): Promise<void> {
    if (destination === this.d.serverName()) return;
    await this.d.queue.enqueueEdu(tx, destination, edu, key, this.d.now());
    tx.afterCommit(() => this.kick(destination));
  }

  /** Queues EDUs in their own write job (for callers outside one). */
  sendEdus(items: Array<{ destination: string; edu: Edu; key?: string | null }>): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    return this.d.db.write(async (tx) => {
      for (const it of items) await this.queueEdu(tx, it.destination, it.edu, it.key ?? null);
    });
  }

  /** The destination talked to us: it is up, retry now. */
  wake(destination: string): void {
    if (!this.backingOff.has(destination)) return;
    this.backingOff.delete(destination);
    const t = this.timers.get(destination);
    if (t) clearTimeout(t);
    this.timers.delete(destination);
    void this.d.destinations
      .resetBackoff(destination)
      .then(() => this.kick(destination))
      .catch(() => undefined);
  }

  /** Starts (or re-arms) delivery to `destination`. */
  kick(destination: string): void {
    if (this.stopped) return;
    if (this.running.has(destination)) {
      this.again.add(destination);
      return;
    }
    if (this.timers.has(destination)) return; // backing off: the timer will run it
    this.running.add(destination);
    void this.deliver(destination)
      .catch((e: unknown) => this.d.log.warn({ err: e, destination }, 'federation sender failed'))
      .finally(() => {
        this.running.delete(destination);
        if (this.again.delete(destination)) this.kick(destination);
      });
  }

  private async deliver(destination: string): Promise<void> {
    while (!this.stopped) {
      const dest = await this.d.destinations.get(destination);
      const now = this.d.now();
      if (dest && dest.retry_at > now) {
        this.schedule(destination, dest.retry_at - now);
        return;
      }
      let txnId = dest?.pending_txn ?? null;
      if (!txnId) {
        const fresh = `${now.toString(36)}${randomBytes(6).toString('hex')}`;
        const claimed = await this.d.db.write(async (tx) => {
          await this.d.destinations.ensure(tx, destination);
          const n = await this.d.queue.claim(tx, destination, fresh, MAX_PDUS_PER_TXN, MAX_EDUS_PER_TXN);
          if (n > 0) await this.d.destinations.setPendingTxn(tx, destination, fresh);
          return n;
        });
        if (claimed === 0) return;
        txnId = fresh;
      }
      const rows = await this.d.queue.txnRows(destination, txnId);
      if (rows.length === 0) {
        await this.d.db.write((tx) => this.d.destinations.setPendingTxn(tx, destination, null));
        continue;
      }
      const pdus = rows.filter((r) => r.kind === 'pdu' && r.event_json).map((r) => JSON.parse(r.event_json!) as unknown);
      const edus = rows.filter((r) => r.kind === 'edu' && r.json).map((r) => JSON.parse(r.json!) as unknown);
      const body = { origin: this.d.serverName(), origin_server_ts: now, pdus, edus };
      try {
        const res = await this.d.client.request<{ pdus?: Record<string, { error?: string }> }>(
          destination,
          'PUT',
          `/_matrix/federation/v1/send/${encodeURIComponent(txnId)}`,
          { body, timeoutMs: 60_000, signal: this.inflight.signal },
        );
        for (const [id, r] of Object.entries(res.pdus ?? {})) {
          if (r && typeof r === 'object' && r.error) this.d.log.info({ destination, eventId: id, error: r.error }, 'remote refused PDU');
        }
        await this.finish(destination, txnId);
        for (const fn of this.onDelivered) fn(destination, pdus.length, edus.length);
      } catch (e) {
        if (this.stopped) return;
        const err = e as FederationError;
        if (err instanceof FederationError && !err.unreachable && err.status !== 429 && err.status !== 401 && err.status !== 404) {
          // The remote refuses this transaction itself (400, 403…): retrying it would block the
          // destination forever, so it is dropped.
          this.d.log.warn({ destination, txnId, err: err.message }, 'transaction refused; dropping it');
          await this.finish(destination, txnId);
          continue;
        }
        await this.backoff(destination, dest?.failures ?? 0, err.message);
        return;
      }
    }
  }

  private async finish(destination: string, txnId: string): Promise<void> {
    await this.d.db.write(async (tx) => {
      await this.d.queue.deleteTxn(tx, destination, txnId);
      await this.d.destinations.markSuccess(tx, destination, this.d.now());
    });
    this.backingOff.delete(destination);
  }

  private async backoff(destination: string, failures: number, error: string): Promise<void> {
    const n = failures + 1;
    const max = this.d.backoffMaxMs();
    const base = Math.min(max, BASE_BACKOFF_MS * 2 ** Math.min(n - 1, 30));
    // ±20% jitter so many destinations coming back at once do not retry in lockstep.
    const delay = Math.max(50, Math.round(base * (0.8 + Math.random() * 0.4)));
    this.d.log.info({ destination, failures: n, retryInMs: delay, error }, 'federation destination unreachable; backing off');
    await this.d.destinations.markFailure(destination, n, this.d.now() + delay, error, this.d.now());
    this.backingOff.add(destination);
    this.schedule(destination, delay);
  }

  private schedule(destination: string, delayMs: number): void {
    if (this.stopped) return;
    const old = this.timers.get(destination);
    if (old) clearTimeout(old);
    this.backingOff.add(destination);
    const t = setTimeout(() => {
      this.timers.delete(destination);
      this.kick(destination);
    }, delayMs);
    t.unref();
    this.timers.set(destination, t);
  }
}
