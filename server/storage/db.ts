/**
 * The database: one SQLite file, two connections (one writer, one reader), one write queue.
 *
 * Why two connections: in WAL mode readers never block the writer and vice versa, so /sync
 * reads continue while a write transaction is open. The sqlite3 package runs each connection's
 * work on the libuv thread pool, one statement at a time per connection.
 *
 * Why a write queue with group commit: every COMMIT costs a WAL append (and, at checkpoints,
 * an fsync). Writes that arrive while a transaction is running are batched into the next
 * transaction; each caller's work runs inside its own SAVEPOINT so one caller's failure rolls
 * back only its own changes, and each caller's promise settles only after the COMMIT that made
 * its write durable (or with the error that stopped it).
 */
import sqlite3 from 'sqlite3';

export type SqlValue = string | number | bigint | null | Buffer | Uint8Array | boolean;
export type Params = SqlValue[] | Record<string, SqlValue>;
export type Row = Record<string, unknown>;

export interface RunResult {
  changes: number;
  lastID: number;
}

/** Queries available inside a write transaction. Never await anything outside the database in here. */
export interface WriteTx {
  run(sql: string, params?: Params): Promise<RunResult>;
  get<T = Row>(sql: string, params?: Params): Promise<T | undefined>;
  all<T = Row>(sql: string, params?: Params): Promise<T[]>;
  /** Executes several statements without parameters (DDL in migrations). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` after this transaction commits (e.g. to wake long-polling /sync). */
  afterCommit(fn: () => void): void;
  /**
   * Queues a write whose result the job does not need: it runs after the job's function returns,
   * after the job's other statements, in the order deferred; if it fails the job fails (its
   * changes rolled back) as if `run` had thrown. Why: a job alone in its batch whose only
   * statement is one deferred write needs no BEGIN/SAVEPOINT/COMMIT (the statement commits
   * itself), so it costs one hop to SQLite's thread instead of three (a message send).
   */
  defer(sql: string, params?: Params): void;
}

export interface DbPragmas {
  /** SQLite page cache of the reader connection (and the writer's unless set below), in KiB. */
  cacheSizeKiB: number;
  /** The writer connection's page cache, in KiB (default: cacheSizeKiB). */
  writerCacheSizeKiB?: number;
  /** Memory-mapped I/O window in bytes (0 disables). */
  mmapSizeBytes: number;
}

export interface DbStats {
  /** Write transactions committed (or attempted) since open. */
  transactions: number;
  /** Write jobs that ran (committed or failed). */
  writes: number;
}

interface WriteJob {
  fn: (tx: WriteTx) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class DatabaseError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Most jobs batched into one transaction; bounds the latency a single commit adds. */
const MAX_BATCH = 500;

function openConnection(path: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, mode, (err) => (err ? reject(err) : resolve(db)));
  });
}

class Connection {
  private readonly statements = new Map<string, sqlite3.Statement>();
  /** Statements being prepared: concurrent first uses share one (a second copy would never be finalized, and close() would fail with SQLITE_BUSY). */
  private readonly preparing = new Map<string, Promise<sqlite3.Statement>>();
  /** Queries in flight, and whether close() began: close waits for them and refuses new ones. */
  private busy = 0;
  private closing = false;
  private onIdle: Array<() => void> = [];
  constructor(readonly raw: sqlite3.Database) {}

  /** Runs one query, counted so close() can wait for it (a late read, e.g. a fire-and-forget one, must not race the close). */
  private async track<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing) throw new DatabaseError('database is closed', 'DB_CLOSED');
    this.busy++;
    try {
      return await fn();
    } finally {
      if (--this.busy === 0 && this.onIdle.length) for (const w of this.onIdle.splice(0)) w();
    }
  }

  /** Prepared statements are cached by SQL text and reused (the sqlite3 package queues per statement). */
  private prepare(sql: string): Promise<sqlite3.Statement> {
    const cached = this.statements.get(sql);
    if (cached) return Promise.resolve(cached);
    const pending = this.preparing.get(sql);
    if (pending) return pending;
    const p = new Promise<sqlite3.Statement>((resolve, reject) => {
      const stmt = this.raw.prepare(sql, (err) => {
        this.preparing.delete(sql);
        if (err) return reject(err);
        this.statements.set(sql, stmt);
        resolve(stmt);
      });
    });
    this.preparing.set(sql, p);
    return p;
  }

  run(sql: string, params: Params = []): Promise<RunResult> {
    return this.track(async () => {
      const stmt = await this.prepare(sql);
      return new Promise<RunResult>((resolve, reject) => {
        stmt.run(params, function (this: sqlite3.RunResult, err: Error | null) {
          if (err) reject(err);
          else resolve({ changes: this.changes, lastID: this.lastID });
        });
      });
    });
  }

  /**
   * `all` rather than the package's `get`: `get` leaves the statement mid-cursor, which keeps a
   * WAL read snapshot open (stale reads, checkpoints starved). Use `LIMIT 1` in single-row queries.
   */
  async get<T>(sql: string, params: Params = []): Promise<T | undefined> {
    const rows = await this.all<T>(sql, params);
    return rows[0];
  }

  all<T>(sql: string, params: Params = []): Promise<T[]> {
    return this.track(async () => {
      const stmt = await this.prepare(sql);
      return new Promise<T[]>((resolve, reject) => {
        stmt.all(params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)));
      });
    });
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.raw.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.busy > 0) await new Promise<void>((resolve) => this.onIdle.push(resolve));
    for (const stmt of this.statements.values()) {
      await new Promise<void>((resolve) => stmt.finalize(() => resolve()));
    }
    this.statements.clear();
    await new Promise<void>((resolve, reject) => this.raw.close((err) => (err ? reject(err) : resolve())));
  }
}

export class Database {
  readonly stats: DbStats = { transactions: 0, writes: 0 };
  private queue: WriteJob[] = [];
  private draining = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  private constructor(
    readonly path: string,
    private readonly writer: Connection,
    private readonly reader: Connection,
  ) {}

  /**
   * Opens (creating if needed) the database file and applies the pragmas. Does not migrate:
   * call `migrate()` from ./migrate.ts, which also refuses a newer-than-known schema.
   */
  static async open(
    path: string,
    pragmas: DbPragmas,
    opts: { readonly?: boolean; maxSchemaVersion?: number } = {},
  ): Promise<Database> {
    const rwMode = opts.readonly ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE;
    const writer = new Connection(await openConnection(path, rwMode).catch((e) => Promise.reject(describe(e, path))));
    try {
      // Read the header before anything writes to the file: a corrupt or newer database must
      // be refused untouched (switching the journal mode would already write).
      const version = await writer
        .get<{ user_version: number }>('PRAGMA user_version')
        .catch((e) => Promise.reject(describe(e, path)));
      const found = version?.user_version ?? 0;
      if (opts.maxSchemaVersion !== undefined && found > opts.maxSchemaVersion) {
        throw new DatabaseError(
          `database ${path} has schema version ${found}, newer than this Hearth knows (${opts.maxSchemaVersion}); ` +
            `upgrade Hearth or restore an older backup`,
          'DB_TOO_NEW',
        );
      }
      await applyPragmas(writer, { ...pragmas, cacheSizeKiB: pragmas.writerCacheSizeKiB ?? pragmas.cacheSizeKiB }, !opts.readonly);
      const reader = new Connection(await openConnection(path, sqlite3.OPEN_READONLY));
      await applyPragmas(reader, pragmas, false);
      return new Database(path, writer, reader);
    } catch (err) {
      await writer.close().catch(() => undefined);
      throw err;
    }
  }

  /** Reads see the last committed state (WAL snapshot per statement). */
  get<T = Row>(sql: string, params?: Params): Promise<T | undefined> {
    return this.reader.get<T>(sql, params);
  }

  all<T = Row>(sql: string, params?: Params): Promise<T[]> {
    return this.reader.all<T>(sql, params);
  }

  /**
   * Queues `fn` to run inside a write transaction, batched with other concurrent writes.
   * Resolves with fn's result once the transaction has committed; rejects with fn's own error
   * (its changes rolled back, other jobs unaffected) or the COMMIT's error.
   */
  write<T>(fn: (tx: WriteTx) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new DatabaseError('database is closed', 'DB_CLOSED'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // Let other writes issued in this tick join the first batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Resolves when no write is queued or running. */
  idle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      await this.runBatch(batch);
    }
    this.draining = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async runBatch(batch: WriteJob[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const afterCommit: Array<() => void> = [];
    const w = this.writer;
    this.stats.transactions++;
    // Each statement is an async hop to SQLite's thread, so the bookkeeping statements ride
    // together in one exec: "BEGIN; SAVEPOINT" opens the first job, "RELEASE; SAVEPOINT" moves
    // to the next, "RELEASE; COMMIT" ends the batch (a one-job batch costs two hops, not four).
    // The transaction begins when a job first touches the database, so a batch that is one job
    // with one deferred write runs that write alone (autocommit): a single hop.
    // IMMEDIATE takes the write lock at BEGIN, so a concurrent CLI writer gets SQLITE_BUSY
    // (and waits busy_timeout) instead of a deadlock-prone lock upgrade mid-transaction.
    let begun = false;
    let pendingRelease = false;
    for (let i = 0; i < batch.length; i++) {
      const job = batch[i]!;
      this.stats.writes++;
      const jobHooks: Array<() => void> = [];
      const deferred: Array<{ sql: string; params: Params | undefined }> = [];
      let opening: Promise<void> | undefined;
      let open = false;
      const openJob = async (): Promise<void> => {
        if (!begun) {
          try {
            await w.exec('BEGIN IMMEDIATE; SAVEPOINT job');
          } catch (err) {
            // BEGIN may have succeeded and SAVEPOINT failed: leave no transaction behind.
            await w.exec('ROLLBACK').catch(() => undefined);
            throw err;
          }
          begun = true;
        } else {
          await w.exec(pendingRelease ? 'RELEASE job; SAVEPOINT job' : 'SAVEPOINT job');
        }
        pendingRelease = false;
        open = true;
      };
      const ensureOpen = (): Promise<void> => (opening ??= openJob());
      const tx: WriteTx = {
        run: (sql, params) => (open ? w.run(sql, params) : ensureOpen().then(() => w.run(sql, params))),
        get: (sql, params) => (open ? w.get(sql, params) : ensureOpen().then(() => w.get(sql, params))),
        all: (sql, params) => (open ? w.all(sql, params) : ensureOpen().then(() => w.all(sql, params))),
        exec: (sql) => ensureOpen().then(() => w.exec(sql)),
        afterCommit: (hook) => void jobHooks.push(hook),
        defer: (sql, params) => void deferred.push({ sql, params }),
      };
      try {
        const value = await job.fn(tx);
        if (deferred.length === 1 && !opening && !begun && batch.length === 1) {
          // Alone, with one write: the statement is its own transaction (atomic, durable on return).
          await w.run(deferred[0]!.sql, deferred[0]!.params);
        } else if (deferred.length > 0) {
          await ensureOpen();
          for (const d of deferred) await w.run(d.sql, d.params);
        }
        if (open) pendingRelease = true;
        outcomes.push({ ok: true, value });
        afterCommit.push(...jobHooks);
      } catch (error) {
        // A statement the job did not await may still be opening its savepoint.
        await opening?.catch(() => undefined);
        if (open) {
          pendingRelease = false;
          try {
            await w.exec('ROLLBACK TO job; RELEASE job');
          } catch {
            // If even the rollback failed the whole transaction is unusable: fail the batch below.
          }
        }
        outcomes.push({ ok: false, error });
      }
    }
    try {
      if (begun) await w.exec(pendingRelease ? 'RELEASE job; COMMIT' : 'COMMIT');
    } catch (commitError) {
      await w.exec('ROLLBACK').catch(() => undefined);
      batch.forEach((job, i) => {
        const o = outcomes[i];
        job.reject(o && !o.ok ? o.error : commitError);
      });
      return;
    }
    batch.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.ok) job.resolve(o.value);
      else job.reject(o.error);
    });
    for (const hook of afterCommit) {
      try {
        hook();
      } catch {
        // A notification hook must never break the writer loop.
      }
    }
  }

  /** Online backup of the whole database into `destPath` (consistent snapshot while writes continue). */
  async backupTo(destPath: string): Promise<void> {
    // VACUUM INTO writes a consistent, compact copy from one read transaction.
    await this.reader.run('VACUUM INTO ?', [destPath]);
  }

  /** Waits for queued writes, then closes both connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.idle();
    this.closed = true;
    await this.reader.close();
    // Folding the WAL back on a clean shutdown keeps the next start (and backups) simple.
    await this.writer.run('PRAGMA wal_checkpoint(TRUNCATE)').catch(() => undefined);
    await this.writer.close();
  }
}

function describe(err: unknown, path: string): Error {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new DatabaseError(`database ${path} is corrupt or not a SQLite database (${code})`, 'DB_CORRUPT');
  }
  if (code === 'SQLITE_CANTOPEN') return new DatabaseError(`cannot open database ${path} (${code})`, 'DB_CANTOPEN');
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Durability, and why these pragmas:
 * - journal_mode=WAL: a commit is one append to the -wal file; readers never block the writer.
 * - synchronous=NORMAL (in WAL mode): a committed transaction is in the WAL file (in the OS page
 *   cache) before COMMIT returns, so it survives `kill -9` of the process; the WAL is fsynced at
 *   checkpoints, so a power cut can lose only the last transactions since the last checkpoint and
 *   never corrupts the database (WAL frames are checksummed; torn tails are ignored on recovery).
 *   FULL would fsync on every commit — a large cost on SD cards for little gain in an appliance.
 *   Never OFF: that can corrupt on power loss.
 * - busy_timeout: `hearth user create` may write while the server runs; wait rather than fail.
 * - cache_size / mmap_size: per connection, bounded on every host (see pragmasFor in
 *   machine-profile.ts for the sizes and why).
 * - temp_store=MEMORY: sorts and temporary b-trees stay off the SD card.
 * - foreign_keys=ON: the schema's references are enforced.
 */
async function applyPragmas(c: Connection, p: DbPragmas, writer: boolean): Promise<void> {
  await c.exec('PRAGMA busy_timeout = 10000');
  if (writer) {
    const rows = await c.all<{ journal_mode: string }>('PRAGMA journal_mode = WAL');
    if (rows[0]?.journal_mode !== 'wal') throw new DatabaseError('could not enable WAL journal mode', 'DB_WAL');
    await c.exec('PRAGMA journal_size_limit = 67108864');
  }
  await c.exec(
    `PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;` +
      `PRAGMA cache_size = -${Math.max(512, Math.floor(p.cacheSizeKiB))};` +
      `PRAGMA mmap_size = ${Math.max(0, Math.floor(p.mmapSizeBytes))};`,
  );
}
