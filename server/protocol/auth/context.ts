/**
 * What the state-dependent rules share: the event, the room version, the auth-event map and the
 * values looked up from it once (create event, power levels, the sender's power level).
 */
import type { Pdu } from '../pdu-types.ts';
import type { RoomVersion } from '../room-versions.ts';
import { own } from './ids.ts';
import { getPowerLevel } from './power-levels.ts';
import { stateKeyOf, type AuthEventMap, type AuthOptions, type IdentifiedPdu } from './types.ts';

export interface RuleContext {
  readonly event: Pdu;
  readonly v: RoomVersion;
  readonly auth: AuthEventMap;
  readonly opts: AuthOptions;
  readonly create: IdentifiedPdu | undefined;
  readonly powerLevels: IdentifiedPdu | undefined;
  readonly senderPower: number;
}

export function makeContext(event: Pdu, auth: AuthEventMap, v: RoomVersion, opts: AuthOptions): RuleContext {
  const create = auth.get(stateKeyOf('m.room.create', ''));
  const powerLevels = auth.get(stateKeyOf('m.room.power_levels', ''));
  return { event, v, auth, opts, create, powerLevels, senderPower: getPowerLevel(event.sender, powerLevels, create, v) };
}

/** A user's "current membership state": the membership of their m.room.member event, `leave` if none. */
export function membershipOf(ctx: RuleContext, userId: string): string {
  const m = own(ctx.auth.get(stateKeyOf('m.room.member', userId))?.content, 'membership');
  return typeof m === 'string' ? m : 'leave';
}

export function powerOf(ctx: RuleContext, userId: string): number {
  return userId === ctx.event.sender ? ctx.senderPower : getPowerLevel(userId, ctx.powerLevels, ctx.create, ctx.v);
}

/**
 * The `join_rule` of the current m.room.join_rules event. With no such event the spec's join rules
 * match nothing; like Synapse and Ruma we read it as `invite` (a member who was invited may join,
 * nobody else), so invited users can join rooms created without a join-rules event.
 */
export function joinRuleOf(ctx: RuleContext): string {
  const jr = ctx.auth.get(stateKeyOf('m.room.join_rules', ''));
  if (!jr) return 'invite';
  const rule = own(jr.content, 'join_rule');
  return typeof rule === 'string' ? rule : 'invite';
}
