/**
 * Keeps the full-text index (event_search) up to date in batches: about a second after events
 * commit, one write job indexes every new event since the last run. A search first brings the
 * index up to date, so results never miss a committed message. (Indexing each message in its
 * own transaction made every send write a new FTS5 segment.)
 */
import type { Database } from '../storage/db.ts';
import type { SearchStore } from '../storage/search-store.ts';
import type { StreamCounter } from './streams.ts';

export const INDEX_DELAY_MS = 1000;

export class SearchIndexer {
  private indexed: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly db: Database,
    private readonly store: SearchStore,
    private readonly stream: StreamCounter,
  ) {}

  /** Called after events commit: index them soon. */
  poke(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.catchUp().catch(() => undefined);
    }, INDEX_DELAY_MS);
    this.timer.unref();
  }

  /** Indexes everything committed so far (searches call this first). */
  async catchUp(): Promise<void> {
    while (this.running) await this.running;
    const to = this.stream.current;
    this.indexed ??= await this.store.indexedUpTo();
    const from = this.indexed;
    if (to <= from) return;
    this.running = this.db.write((tx) => this.store.indexRange(tx, from, to)).then(() => {
      this.indexed = Math.max(this.indexed ?? 0, to);
    });
    try {
      await this.running;
    } finally {
      this.running = null;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
