/**
 * Inputs of state resolution (rooms/v1.md, fragments/v2-state-res.md, v12.md "State resolution").
 * The algorithms are pure; events and auth chains come from a store the caller passes in, whose
 * functions may be synchronous (in-memory maps, tests) or asynchronous (SQLite).
 */
import type { AuthOptions, IdentifiedPdu } from '../auth/types.ts';

/** A room state: `type + "\u0000" + state_key` (see auth/types.ts stateKeyOf) → event ID. */
export type StateMap = ReadonlyMap<string, string>;

export type MaybePromise<T> = T | Promise<T>;

export interface StateResStore {
  /**
   * The events with these IDs, rejected ones included ("Events that have been rejected … are
   * handled as usual by the algorithm"). Unknown IDs are simply left out. Events must carry their
   * `event_id` (v3+ PDUs don't on the wire: the caller sets the computed ID).
   */
  getEvents(ids: readonly string[]): MaybePromise<Iterable<IdentifiedPdu>>;
  /** Which of these events were rejected; rejected events are never used as auth events. Default: none. */
  getRejected?(ids: readonly string[]): MaybePromise<Iterable<string>>;
  /**
   * The union of the auth chains of these events: their auth events, recursively, not the events
   * themselves. Optional; by default the chain is walked through `getEvents`. A store with an
   * auth-chain index (Synapse's chain cover, a closure table…) answers this without loading events.
   */
  getAuthChain?(ids: readonly string[]): MaybePromise<Iterable<string>>;
}

export interface ResolveOptions {
  /** Passed to the authorization rules (third-party invite signature verifier, …). */
  authOptions?: AuthOptions;
  /**
   * If given, events whose room_id differs (a v12 create event: whose ID does not match) are
   * treated as unknown, so a confused or malicious store cannot mix rooms.
   */
  roomId?: string;
}

/** Thrown when the input cannot be resolved (e.g. no state sets). */
export class StateResError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateResError';
  }
}
