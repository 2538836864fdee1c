/**
 * Drives the authorization rules with real, hashed and signed events (test/helpers/events.ts) in
 * any room version. A case builds a room, then checks a candidate event against the state before it.
 */
import { checkAuth } from '../../../server/protocol/auth/check.ts';
import type { AuthOptions, AuthResult, IdentifiedPdu } from '../../../server/protocol/auth/types.ts';
import { verifyEventSignature } from '../../../server/protocol/hashing.ts';
import type { JsonObject, Pdu } from '../../../server/protocol/pdu-types.ts';
import type { RoomVersion } from '../../../server/protocol/room-versions.ts';
import {
  defaultPowerLevels,
  makeRoom,
  testSigningKey,
  TEST_KEY_ID,
  type EventOptions,
  type MakeRoomOptions,
  type TestEvent,
  type TestRoom,
} from '../../helpers/events.ts';

export const ALICE = '@alice:a.test'; // creates every room
export const BOB = '@bob:b.test';
export const CAROL = '@carol:a.test';
export const DAVE = '@dave:d.test';
export const EVE = '@eve:e.test'; // never joins

/** Real signature check for `join_authorised_via_users_server`, with the test servers' keys. */
export function testIsSignedBy(version: RoomVersion): (event: Pdu, server: string) => boolean {
  return (event, server) => verifyEventSignature(event, version, server, TEST_KEY_ID, testSigningKey(server).publicKey);
}

export class Harness {
  constructor(readonly v: RoomVersion) {}

  /** A room created by ALICE (create, join, default power levels, public join rule unless overridden). */
  room(opts: MakeRoomOptions = {}): TestRoom {
    return makeRoom(ALICE, { version: this.v.id, ...opts });
  }

  /** The room state after the current extremities as an auth-event map. */
  stateMap(room: TestRoom): Map<string, IdentifiedPdu> {
    const out = new Map<string, IdentifiedPdu>();
    for (const [key, id] of room.state()) out.set(key, withId(room.get(id)));
    return out;
  }

  /** ALICE sends power levels: the defaults with `overrides` on top (`users` merged). */
  setPowerLevels(room: TestRoom, overrides: JsonObject, sender = ALICE): TestEvent {
    const base = defaultPowerLevels(ALICE, this.v);
    const users = { ...(base.users as JsonObject), ...((overrides.users as JsonObject | undefined) ?? {}) };
    return room.event('m.room.power_levels', { ...base, ...overrides, users }, { sender, state_key: '' });
  }

  /** Build (without adding) an event and check it against the state before it. */
  check(room: TestRoom, type: string, content: JsonObject, opts: EventOptions = {}, authOpts: AuthOptions = {}): AuthResult {
    const ev = room.build(type, content, opts);
    return this.checkEvent(room, ev.pdu, authOpts);
  }

  checkEvent(room: TestRoom, pdu: Pdu, authOpts: AuthOptions = {}): AuthResult {
    return checkAuth(pdu, this.stateMap(room), this.v, { isSignedBy: testIsSignedBy(this.v), ...authOpts });
  }

  /** Check an m.room.member event: `sender` sets `target`'s membership. */
  member(room: TestRoom, sender: string, target: string, membership: string, content: JsonObject = {}, authOpts: AuthOptions = {}): AuthResult {
    return this.check(room, 'm.room.member', { membership, ...content }, { sender, state_key: target }, authOpts);
  }
}

export function withId(ev: TestEvent): IdentifiedPdu {
  return { ...ev.pdu, event_id: ev.eventId };
}

export type Expect = readonly ['allow' | 'reject', string];

export interface AuthCase {
  name: string;
  /** Versions the case applies to (default: all). */
  versions?: (v: RoomVersion) => boolean;
  run: (h: Harness) => AuthResult;
  /** Expected outcome and rule ID, or a function of the version where versions differ. */
  expect: Expect | ((v: RoomVersion) => Expect);
}

export const allow = (ruleId: string): Expect => ['allow', ruleId];
export const reject = (ruleId: string): Expect => ['reject', ruleId];
