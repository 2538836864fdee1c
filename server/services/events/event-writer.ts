/**
 * Creates and persists local events: prev_events from the forward extremities, auth_events by
 * "Auth events selection", depth, content hash and signature, the authorization rules, the state
 * after the event (a new state group for state events), all inside one `db.write` job. Several
 * events can be appended in one job (createRoom writes ~8 atomically).
 *
 * Why the event is built inside the write job: the single writer serialises every job, so the
 * prev_events chain stays linear without a per-room lock, and ten concurrent senders in a room
 * share one commit. The writer keeps an in-memory head per room (state snapshot, extremities,
 * depth); a job that fails restores the heads it touched, a failed COMMIT drops them so they are
 * reloaded from the database.
 */
import type { Database, RunResult, WriteTx } from '../../storage/db.ts';
import type { EventsStore, EventRow } from '../../storage/events-store.ts';
import type { StateStore, StateEntry } from '../../storage/state-store.ts';
import type { RoomsStore } from '../../storage/rooms-store.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { computeRoomIdFromCreateEvent } from '../../protocol/hashing.ts';
import { notFound } from '../../http/errors.ts';
import { StateSnapshot, type StateCache } from '../state/state-cache.ts';
import { getRoomVersion, type RoomVersion } from '../../protocol/room-versions.ts';
import type { SigningKey } from '../../protocol/signing.ts';
import type { EventCache, StoredEvent } from './event-cache.ts';
import type { StreamCounter } from '../streams.ts';
import type { Notifier } from '../notifier.ts';
import { WriteBatch, type RoomHead, type AppendedEvent } from './write-batch.ts';
import { buildLocalPdu, localPduNeeds, type LocalDraft } from './build-local.ts';

export type { LocalDraft } from './build-local.ts';


/** Runs for every appended event inside the job (stage rows with batch.onFlush, effects with afterCommit). */
export type AppendHook = (b: WriteBatch, ev: AppendedEvent) => void | Promise<void>;

export interface EventWriterDeps {
  db: Database;
  events: EventsStore;
  state: StateStore;
  rooms: RoomsStore;
  eventCache: EventCache;
  stateCache: StateCache;
  stream: StreamCounter;
  /** Next state group ID (max in the database at start). */
  groupStart: number;
  serverName: () => string;
  signingKey: () => SigningKey;
  notifier: Notifier;
  now: () => number;
}


export class EventWriter {
  private readonly heads = new Map<string, RoomHead>();
  /** Committed current state group per room, for readers. */
  private readonly committedGroups = new Map<string, number>();
  private nextGroup: number;
  private readonly hooks: AppendHook[] = [];
  private readonly commitListeners: Array<(b: WriteBatch) => void> = [];
  private readonly membershipListeners: Array<(users: ReadonlySet<string> | null) => void> = [];
  private readonly pending: Array<{ roomId: string; draft: LocalDraft; resolve: (a: AppendedEvent) => void; reject: (e: unknown) => void }> = [];
  private drainQueued = false;

  constructor(private readonly d: EventWriterDeps) {
    this.nextGroup = d.groupStart;
  }

  /** Registers a hook run for every appended event (relations, push actions, search…). */
  addHook(h: AppendHook): void {
    this.hooks.push(h);
  }

  /** Called after commit with the users whose membership of some room changed (null: possibly anyone's). */
  onMembershipChanged(fn: (users: ReadonlySet<string> | null) => void): void {
    this.membershipListeners.push(fn);
  }

  /** Registers a listener run after every committed batch that appended events. */
  onCommitted(fn: (b: WriteBatch) => void): void {
    this.commitListeners.push(fn);
  }

  /**
   * Runs the append hooks for an event another path appended to `b` (federation persists remote
   * events itself, with their own prev/auth events and state, then calls this).
   */
  async runHooks(b: WriteBatch, a: AppendedEvent): Promise<void> {
    for (const h of this.hooks) await h(b, a);
  }

  /** Runs `fn` in one write job with a batch; everything it appends commits atomically. */
  async write<T>(fn: (b: WriteBatch) => Promise<T>): Promise<T> {
    let batch: WriteBatch | undefined;
    let jobFailed = false;
    try {
      return await this.d.db.write(async (tx) => {
        batch = new WriteBatch(tx);
        try {
          const result = await fn(batch);
          await this.flush(batch);
          const b = batch;
          tx.afterCommit(() => this.committed(b));
          return result;
        } catch (e) {
          jobFailed = true;
          this.restore(batch);
          throw e;
        }
      });
    } catch (e) {
      // COMMIT (or a deferred write) failed after the job returned: heads may be ahead of the
      // database, and the cache holds events that were never stored; reload / forget them.
      if (batch && !jobFailed) {
        for (const roomId of batch.touched.keys()) this.heads.delete(roomId);
        for (const a of batch.appended) this.d.eventCache.forget(a.event.eventId);
      }
      throw e;
    }
  }

  private restore(b: WriteBatch): void {
    for (const [roomId, head] of b.touched) {
      if (head) this.heads.set(roomId, head);
      else this.heads.delete(roomId);
    }
    for (const a of b.appended) this.d.eventCache.forget(a.event.eventId);
  }

  private committed(b: WriteBatch): void {
    this.d.stream.committed(b.maxStream);
    const changedMembers = new Set<string>();
    let allMembersChanged = false;
    for (const [roomId] of b.touched) {
      const head = this.heads.get(roomId);
      if (!head) continue;
      const prevGroup = this.committedGroups.get(roomId);
      this.committedGroups.set(roomId, head.state.group);
      // Whose membership changed (for per-user membership caches): diff the member maps.
      if (prevGroup === head.state.group) continue;
      const prev = prevGroup === undefined ? undefined : this.d.stateCache.peek(prevGroup);
      if (prev && prev.members === head.state.members) continue;
      if (!prev) {
        if (prevGroup !== undefined) allMembersChanged = true;
        for (const u of head.state.members.keys()) changedMembers.add(u);
        continue;
      }
      for (const [u, m] of head.state.members) if (prev.members.get(u) !== m) changedMembers.add(u);
      for (const u of prev.members.keys()) if (!head.state.members.has(u)) changedMembers.add(u);
    }
    for (const entries of b.currentState.values()) for (const e of entries) if (e.type === 'm.room.member') changedMembers.add(e.stateKey);
    if (allMembersChanged || changedMembers.size) {
      for (const l of this.membershipListeners) l(allMembersChanged ? null : changedMembers);
    }
    for (const h of b.committedHooks) {
      try {
        h();
      } catch {
        // An after-commit effect must not stop the others.
      }
    }
    for (const l of this.commitListeners) l(b);
    this.d.notifier.notifyUsers(b.wake);
  }

  /**
   * Writes what the batch staged. The events go through the events_append view (migration
   * 0009), which also replaces the forward extremities of their rooms and writes push actions,
   * so a batch of messages is ONE statement. Without hook statements (flushers) every write is
   * deferred (db.ts `defer`): such a batch, alone in its write transaction, then costs a single
   * hop with no BEGIN/COMMIT. Hook statements expect the rows before them, in order, so with
   * flushers everything runs at once instead.
   */
  private async flush(b: WriteBatch): Promise<void> {
    const tx = b.tx;
    const sink = b.flushers.length ? tx : deferring(tx);
    const extremities = new Map<string, string[]>();
    const groups: Array<[roomId: string, group: number]> = [];
    for (const [roomId, before] of b.touched) {
      const head = this.heads.get(roomId)!;
      if (!sameList(before?.extremities, head.extremities)) extremities.set(roomId, head.extremities);
      if (!before || before.state.group !== head.state.group) groups.push([roomId, head.state.group]);
    }
    for (const r of b.newRooms) await this.d.rooms.insert(sink, r);
    for (const g of b.groups) await this.d.state.insertGroup(sink, g);
    const { statements, rest } = this.d.events.appendStatements(b.eventRows, extremities);
    for (const st of statements) await sink.run(st.sql, st.params);
    for (const [roomId, entries] of b.currentState) await this.d.state.upsertCurrent(sink, roomId, entries);
    for (const roomId of rest) await this.d.events.replaceExtremities(sink, roomId, extremities.get(roomId)!);
    for (const [roomId, group] of groups) await this.d.rooms.setStateGroup(sink, roomId, group);
    for (const f of b.flushers) await f(tx);
  }

  // --- reading heads ---------------------------------------------------------------------------

  /** The committed current state group of a room (undefined: no such room). */
  async currentGroup(roomId: string): Promise<number | undefined> {
    const g = this.committedGroups.get(roomId);
    if (g !== undefined) return g;
    const row = await this.d.rooms.get(roomId);
    if (!row || row.state_group === null) return undefined;
    // Only cache if no job has published a newer value meanwhile.
    if (!this.committedGroups.has(roomId)) this.committedGroups.set(roomId, row.state_group);
    return this.committedGroups.get(roomId);
  }

  /** The room's committed current state. */
  async currentState(roomId: string): Promise<StateSnapshot | undefined> {
    const g = await this.currentGroup(roomId);
    return g === undefined ? undefined : this.d.stateCache.get(g);
  }

  /** The writer's head of a room (inside a job; loads from the database on a miss). */
  async head(b: WriteBatch, roomId: string): Promise<RoomHead | undefined> {
    let head = this.heads.get(roomId);
    if (!head) {
      const row = await this.d.rooms.get(roomId, b.tx);
      if (!row || row.state_group === null) return undefined;
      const version = getRoomVersion(row.room_version);
      if (!version) throw new Error(`room ${roomId} has unknown version ${row.room_version}`);
      const extremities = await this.d.events.getExtremities(roomId, b.tx);
      const prev = await this.d.eventCache.getMany(extremities, b.tx);
      const depth = Math.max(0, ...[...prev.values()].map((e) => e.depth));
      const state = await this.d.stateCache.get(row.state_group, b.tx);
      head = { roomId, version, state, extremities, depth };
      this.heads.set(roomId, head);
    }
    if (!b.touched.has(roomId)) b.touched.set(roomId, head);
    return head;
  }

  /** Updates the head (inside a job); flush writes its extremities and state group. */
  setHead(b: WriteBatch, head: RoomHead): void {
    this.putHead(b, head);
  }

  private putHead(b: WriteBatch, head: RoomHead): void {
    if (!b.touched.has(head.roomId)) b.touched.set(head.roomId, this.heads.get(head.roomId));
    this.heads.set(head.roomId, head);
  }

  allocateGroup(): number {
    return ++this.nextGroup;
  }

  // --- appending local events ------------------------------------------------------------------

  /**
   * Creates a new room with its m.room.create event. v1–v11: `roomId` is chosen by the caller;
   * v12: the room ID is derived from the create event (pass undefined).
   */
  async appendCreate(b: WriteBatch, version: RoomVersion, roomId: string | undefined, draft: LocalDraft): Promise<AppendedEvent> {
    const empty = StateSnapshot.empty(0, roomId ?? '');
    return this.appendLocal(b, { roomId, version, state: empty, extremities: [], depth: 0 }, draft);
  }

  /** Appends a local event to an existing room. Throws 404 for an unknown room, 403 when the auth rules reject it. */
  async append(b: WriteBatch, roomId: string, draft: LocalDraft): Promise<AppendedEvent> {
    const head = await this.head(b, roomId);
    if (!head) throw notFound('Unknown room');
    return this.appendLocal(b, head, draft);
  }

  /**
   * Appends a local event in a write job shared with other appends queued at the same moment:
   * concurrent sends become one transaction with ONE multi-row INSERT instead of a job (and a
   * savepoint) each. An append the rules refuse fails alone; if the shared insert fails (e.g. a
   * duplicate transaction ID), every append is retried in its own job so only the culprit fails.
   */
  appendSoon(roomId: string, draft: LocalDraft): Promise<AppendedEvent> {
    return new Promise((resolve, reject) => {
      this.pending.push({ roomId, draft, resolve, reject });
      // One queued job takes everything pending when it starts: appends that arrive while the
      // write queue is busy ride together.
      if (!this.drainQueued) {
        this.drainQueued = true;
        void this.drainPending();
      }
    });
  }

  private async drainPending(): Promise<void> {
    let items: typeof this.pending = [];
    const outcomes: Array<{ ok: true; a: AppendedEvent } | { ok: false; e: unknown }> = [];
    try {
      await this.write(async (b) => {
        this.drainQueued = false;
        items = this.pending.splice(0);
        for (let i = 0; i < items.length; i++) {
          const it = items[i]!;
          const mark = b.mark();
          const touchedBefore = b.touched.has(it.roomId);
          const before = this.heads.get(it.roomId);
          try {
            outcomes[i] = { ok: true, a: await this.append(b, it.roomId, it.draft) };
          } catch (e) {
            // Undo whatever this append staged; the others go ahead.
            b.rollbackTo(mark);
            if (before) this.heads.set(it.roomId, before);
            else this.heads.delete(it.roomId);
            if (!touchedBefore) b.touched.delete(it.roomId);
            outcomes[i] = { ok: false, e };
          }
        }
      });
    } catch {
      this.drainQueued = false;
      // The shared insert failed (or the job never ran): each append alone, so only the culprit fails.
      if (items.length === 0) items = this.pending.splice(0);
      for (const it of items) this.write((b) => this.append(b, it.roomId, it.draft)).then(it.resolve, it.reject);
      return;
    }
    items.forEach((it, i) => {
      const o = outcomes[i]!;
      if (o.ok) it.resolve(o.a);
      else it.reject(o.e);
    });
  }

  private async appendLocal(
    b: WriteBatch,
    head: Omit<RoomHead, 'roomId'> & { roomId: string | undefined },
    draft: LocalDraft,
  ): Promise<AppendedEvent> {
    const v = head.version;
    const server = this.d.serverName();
    const key = this.d.signingKey();
    const isCreate = draft.type === 'm.room.create' && draft.stateKey === '';
    const before = head.state;

    const known = await this.d.eventCache.getMany(localPduNeeds(head, draft), b.tx);
    const { signed, eventId, json, content, prevIds } = buildLocalPdu(head, draft, known, server, key, this.d.now());
    const roomId = head.roomId ?? computeRoomIdFromCreateEvent(signed, v);
    const ts = signed.origin_server_ts;

    // State after the event.
    let after = before;
    let unsignedExtra: JsonObject | null = null;
    if (draft.stateKey !== undefined) {
      const membership = draft.type === 'm.room.member' && typeof content.membership === 'string' ? content.membership : null;
      const entry: StateEntry = { type: draft.type, stateKey: draft.stateKey, eventId, membership };
      const group = this.allocateGroup();
      after = isCreate ? new StateSnapshot(group, roomId, new Map(), new Map(), 0).withEntries(group, [entry]) : before.withEntries(group, [entry]);
      const full = after.deltaDepth === 0;
      b.groups.push({
        id: group,
        roomId,
        prevGroup: full ? null : before.group,
        deltaDepth: after.deltaDepth,
        entries: full ? after.entries() : [entry],
      });
      let cur = b.currentState.get(roomId);
      if (!cur) b.currentState.set(roomId, (cur = []));
      cur.push(entry);
      const replaced = before.get(draft.type, draft.stateKey);
      if (replaced) {
        const old = known.get(replaced) ?? (await this.d.eventCache.get(replaced, b.tx));
        unsignedExtra = { replaces_state: replaced };
        if (old) {
          unsignedExtra.prev_content = old.redactedBy ? {} : old.pdu.content;
          unsignedExtra.prev_sender = old.sender;
        }
      }
      this.d.stateCache.put(after);
    }

    const stream = this.d.stream.allocate();
    b.maxStream = Math.max(b.maxStream, stream);
    const rel = content['m.relates_to'];
    const threadId =
      typeof rel === 'object' && rel !== null && !Array.isArray(rel) && rel.rel_type === 'm.thread' && typeof rel.event_id === 'string'
        ? rel.event_id
        : null;
    const row: EventRow = {
      stream_ordering: stream,
      event_id: eventId,
      room_id: roomId,
      depth: signed.depth,
      type: draft.type,
      state_key: draft.stateKey ?? null,
      sender: draft.sender,
      origin_server_ts: ts,
      json,
      unsigned_json: unsignedExtra ? JSON.stringify(unsignedExtra) : null,
      state_before: before.group || null,
      state_after: after.group,
      outlier: 0,
      rejected: null,
      redacted_by: null,
      device_id: draft.txn?.deviceId ?? null,
      txn_id: draft.txn?.txnId ?? null,
      has_relations: 0,
      thread_id: threadId,
    };
    b.eventRows.push(row);
    const stored: StoredEvent = {
      eventId,
      roomId,
      streamOrdering: stream,
      depth: signed.depth,
      type: draft.type,
      stateKey: draft.stateKey,
      sender: draft.sender,
      originServerTs: ts,
      pdu: signed,
      unsignedExtra,
      stateBefore: row.state_before,
      stateAfter: after.group,
      outlier: false,
      rejected: null,
      redactedBy: null,
      deviceId: row.device_id,
      txnId: row.txn_id,
      hasRelations: false,
      threadId,
    };
    this.d.eventCache.put(stored, row.json.length + (row.unsigned_json?.length ?? 0));

    if (isCreate) {
      const creator = draft.sender;
      b.newRooms.push({ roomId, version: v.id, creator, now: ts });
      b.touched.set(roomId, undefined);
    }
    // The cited extremities are replaced by the new event.
    const extremities = [...head.extremities.filter((e) => !prevIds.includes(e)), eventId];
    this.putHead(b, { roomId, version: v, state: after, extremities, depth: Math.max(head.depth, signed.depth) });

    // Who must hear about it: local joined and invited members, and the target of a membership change.
    for (const u of after.localWith(server, 'join,invite')) b.wake.add(u);
    if (draft.type === 'm.room.member' && draft.stateKey?.endsWith(':' + server)) b.wake.add(draft.stateKey);

    const appended: AppendedEvent = { event: stored, before, after, version: v };
    b.appended.push(appended);
    for (const h of this.hooks) await h(b, appended);
    return appended;
  }
}

const NO_RESULT: RunResult = { changes: 0, lastID: 0 };

/**
 * `tx` with `run` deferred (db.ts `defer`), for store methods that only write and never read
 * what `run` returns; reads would see nothing of the deferred writes, so they are refused.
 */
function deferring(tx: WriteTx): WriteTx {
  const refuse = () => Promise.reject(new Error('no reads while writes are deferred'));
  return {
    run: (sql, params) => {
      tx.defer(sql, params);
      return Promise.resolve(NO_RESULT);
    },
    get: refuse,
    all: refuse,
    exec: refuse,
    afterCommit: (fn) => tx.afterCommit(fn),
    defer: (sql, params) => tx.defer(sql, params),
  };
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}
