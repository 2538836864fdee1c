/**
 * One write job's staged changes. Events appended to a batch are built, signed and
 * auth-checked at once (so the next event in the same job sees them as prev/auth events), but
 * their rows are written together by `flush()` in a few multi-row statements, and their side
 * effects (cache updates, notifier) run only after the transaction commits.
 */
import type { WriteTx } from '../../storage/db.ts';
import type { EventRow } from '../../storage/events-store.ts';
import type { StateEntry } from '../../storage/state-store.ts';
import type { RoomVersion } from '../../protocol/room-versions.ts';
import type { StoredEvent } from './event-cache.ts';
import type { StateSnapshot } from '../state/state-cache.ts';

/** The writer's view of a room: the state after its forward extremities. */
export interface RoomHead {
  roomId: string;
  version: RoomVersion;
  state: StateSnapshot;
  extremities: string[];
  /** Highest depth among the extremities. */
  depth: number;
}

/** An event appended in this batch with the state before and after it. */
export interface AppendedEvent {
  event: StoredEvent;
  before: StateSnapshot;
  after: StateSnapshot;
  /** The head's version (convenience). */
  version: RoomVersion;
}

export interface GroupInsert {
  id: number;
  roomId: string;
  prevGroup: number | null;
  deltaDepth: number;
  entries: StateEntry[];
}

export interface BatchMark {
  eventRows: number;
  groups: number;
  newRooms: number;
  appended: number;
  flushers: number;
  committedHooks: number;
  currentState: Map<string, number>;
  maxStream: number;
}

export class WriteBatch {
  readonly eventRows: EventRow[] = [];
  /**
   * Ignored: the events_graph trigger derives edges from each row's prev_events. Kept so callers
   * that still fill it compile.
   */
  readonly edges: Array<[string, string]> = [];
  readonly groups: GroupInsert[] = [];
  /** roomId → current-state entries to upsert. */
  readonly currentState = new Map<string, StateEntry[]>();
  readonly newRooms: Array<{ roomId: string; version: string; creator: string; now: number }> = [];
  /** roomId → head as it was before this batch first touched it (undefined: room is new). */
  readonly touched = new Map<string, RoomHead | undefined>();
  readonly appended: AppendedEvent[] = [];
  /** Extra statements staged by hooks, run in order by flush(). */
  readonly flushers: Array<(tx: WriteTx) => Promise<void>> = [];
  /** Run after commit, in order. */
  readonly committedHooks: Array<() => void> = [];
  /** Users to wake after commit. */
  readonly wake = new Set<string>();
  /** Highest event stream position allocated by this batch. */
  maxStream = 0;

  constructor(readonly tx: WriteTx) {}

  /** Where the batch stands, to undo one failed append among several (see rollbackTo). */
  mark(): BatchMark {
    const currentState = new Map<string, number>();
    for (const [k, v] of this.currentState) currentState.set(k, v.length);
    return {
      eventRows: this.eventRows.length,
      groups: this.groups.length,
      newRooms: this.newRooms.length,
      appended: this.appended.length,
      flushers: this.flushers.length,
      committedHooks: this.committedHooks.length,
      currentState,
      maxStream: this.maxStream,
    };
  }

  /** Drops everything staged after `m` (heads are the writer's to restore). */
  rollbackTo(m: BatchMark): void {
    this.eventRows.length = m.eventRows;
    this.groups.length = m.groups;
    this.newRooms.length = m.newRooms;
    this.appended.length = m.appended;
    this.flushers.length = m.flushers;
    this.committedHooks.length = m.committedHooks;
    for (const [k, v] of [...this.currentState]) {
      const n = m.currentState.get(k);
      if (n === undefined) this.currentState.delete(k);
      else v.length = n;
    }
    this.maxStream = m.maxStream;
  }

  onFlush(fn: (tx: WriteTx) => Promise<void>): void {
    this.flushers.push(fn);
  }

  afterCommit(fn: () => void): void {
    this.committedHooks.push(fn);
  }
}
