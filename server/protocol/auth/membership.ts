/**
 * "If type is m.room.member" (v1–v5 rule 5, v6–v11 rule 4, v12 rule 5). Comments quote the rule
 * text; numbers in comments are the v8–v11 ones (v1–v7 have no rule 2, v12 shifts the top level).
 */
import type { JsonObject } from '../pdu-types.ts';
import { membershipOf, joinRuleOf, powerOf, type RuleContext } from './context.ts';
import { isObject, own, referenceIds } from './ids.ts';
import { getNamedLevel, roomCreators } from './power-levels.ts';
import { allow, reject } from './rules.ts';
import { checkMemberShape } from './state-independent.ts';
import { verifySignedWithKey } from './third-party-invite.ts';
import { stateKeyOf, type AuthResult } from './types.ts';

export function checkMembership(ctx: RuleContext): AuthResult {
  const { event, v } = ctx;
  // 1. "If there is no state_key property, or no membership property in content, reject."
  const shape = checkMemberShape(event, v);
  if (shape) return shape;
  // 2. (v8+) The join_authorised_via_users_server signature is state-independent: see state-independent.ts.
  const membership = own(event.content, 'membership') as string;
  switch (membership) {
    case 'join':
      return checkJoin(ctx);
    case 'invite':
      return checkInvite(ctx);
    case 'leave':
      return checkLeave(ctx);
    case 'ban':
      return checkBan(ctx);
    case 'knock':
      // Since v7, "If membership is knock"; before v7 knock is an unknown membership.
      if (v.knock) return checkKnock(ctx);
      break;
  }
  // "Otherwise, the membership is unknown. Reject."
  return reject(v, 'member.unknown', `unknown membership ${JSON.stringify(membership)}`);
}

function checkJoin(ctx: RuleContext): AuthResult {
  const { event, v } = ctx;
  const target = event.state_key as string;
  // 3.1 "If the only previous event is an m.room.create and the state_key is the creator, allow."
  // (v11+: "the sender of the m.room.create" — in v12 not the additional creators.)
  const prev = referenceIds(event.prev_events);
  if (prev.length === 1 && ctx.create && prev[0] === ctx.create.event_id) {
    const creator = v.implicitCreator ? ctx.create.sender : roomCreators(ctx.create, v)[0];
    if (creator === target) return allow(v, 'member.join.creatorFirst');
  }
  // 3.2 "If the sender does not match state_key, reject."
  if (event.sender !== target) return reject(v, 'member.join.notSelf', 'cannot join on behalf of another user');
  const current = membershipOf(ctx, target);
  // 3.3 "If the sender is banned, reject."
  if (current === 'ban') return reject(v, 'member.join.banned', 'sender is banned');
  const joinRule = joinRuleOf(ctx);
  // 3.4 "If the join_rule is invite (v7+: or knock) then allow if membership state is invite or join."
  if (joinRule === 'invite' || (v.knock && joinRule === 'knock')) {
    if (current === 'invite' || current === 'join') return allow(v, 'member.join.invite');
    return reject(v, 'member.join.otherwise', `join rule is ${joinRule} and the user is not invited`);
  }
  // 3.5 (v8+) "If the join_rule is restricted (v10+: or knock_restricted):"
  if (v.restrictedJoinRule && (joinRule === 'restricted' || (v.knockRestrictedJoinRule && joinRule === 'knock_restricted'))) {
    // 3.5.1 "If membership state is join or invite, allow."
    if (current === 'join' || current === 'invite') return allow(v, 'member.join.restricted.alreadyMember');
    // 3.5.2 "If the join_authorised_via_users_server key in content is not a user with sufficient
    // permission to invite other users or is not a joined member of the room, reject."
    const via = own(event.content, 'join_authorised_via_users_server');
    if (typeof via !== 'string') return reject(v, 'member.join.restricted.authoriser', 'restricted join without join_authorised_via_users_server');
    if (membershipOf(ctx, via) !== 'join') return reject(v, 'member.join.restricted.authoriser', `authorising user ${via} is not joined`);
    if (powerOf(ctx, via) < getNamedLevel('invite', ctx.powerLevels, v)) {
      return reject(v, 'member.join.restricted.authoriser', `authorising user ${via} cannot invite`);
    }
    // 3.5.3 "Otherwise, allow."
    return allow(v, 'member.join.restricted.allow');
  }
  // 3.6 "If the join_rule is public, allow."
  if (joinRule === 'public') return allow(v, 'member.join.public');
  // 3.7 "Otherwise, reject."
  return reject(v, 'member.join.otherwise', `join rule ${joinRule} does not allow joining`);
}

function checkThirdPartyInvite(ctx: RuleContext, tpi: JsonObject | undefined): AuthResult {
  const { event, v } = ctx;
  const target = event.state_key as string;
  // 4.1.1 "If target user is banned, reject."
  if (membershipOf(ctx, target) === 'ban') return reject(v, 'member.invite.thirdParty.targetBanned', 'target user is banned');
  // 4.1.2 "If content.third_party_invite does not have a signed property, reject."
  const signed = tpi ? own(tpi, 'signed') : undefined;
  if (!isObject(signed)) return reject(v, 'member.invite.thirdParty.noSigned', 'third_party_invite has no signed object');
  // 4.1.3 "If signed does not have mxid and token properties, reject."
  const mxid = own(signed, 'mxid');
  const token = own(signed, 'token');
  if (typeof mxid !== 'string' || typeof token !== 'string') {
    return reject(v, 'member.invite.thirdParty.signedFields', 'signed needs string mxid and token');
  }
  // 4.1.4 "If mxid does not match state_key, reject."
  if (mxid !== target) return reject(v, 'member.invite.thirdParty.mxidMismatch', 'signed.mxid does not match state_key');
  // 4.1.5 "If there is no m.room.third_party_invite event in the current room state with state_key matching token, reject."
  const invite = ctx.auth.get(stateKeyOf('m.room.third_party_invite', token));
  if (!invite) return reject(v, 'member.invite.thirdParty.noToken', `no m.room.third_party_invite for token ${token}`);
  // 4.1.6 "If sender does not match sender of the m.room.third_party_invite, reject."
  if (invite.sender !== event.sender) return reject(v, 'member.invite.thirdParty.senderMismatch', 'sender did not send the third-party invite');
  // 4.1.7 "If any signature in signed matches any public key in the m.room.third_party_invite event,
  // allow. The public keys are … a single public key in the public_key property [and] a list of
  // public keys in the public_keys property."
  const keys: string[] = [];
  const single = own(invite.content, 'public_key');
  if (typeof single === 'string') keys.push(single);
  const list = own(invite.content, 'public_keys');
  if (Array.isArray(list)) {
    for (const k of list) {
      const pk = isObject(k) ? own(k, 'public_key') : undefined;
      if (typeof pk === 'string') keys.push(pk);
    }
  }
  const verify = ctx.opts.verifySignedWithKey ?? verifySignedWithKey;
  if (keys.some((k) => verify(signed, k))) return allow(v, 'member.invite.thirdParty.signatureValid');
  // 4.1.8 "Otherwise, reject."
  return reject(v, 'member.invite.thirdParty.otherwise', 'no signature in signed matches a public key of the invite');
}

function checkInvite(ctx: RuleContext): AuthResult {
  const { event, v } = ctx;
  // 4.1 "If content has a third_party_invite property:"
  if (Object.hasOwn(event.content, 'third_party_invite')) {
    const tpi = event.content.third_party_invite;
    return checkThirdPartyInvite(ctx, isObject(tpi) ? tpi : undefined);
  }
  // 4.2 "If the sender's current membership state is not join, reject."
  if (membershipOf(ctx, event.sender) !== 'join') return reject(v, 'member.invite.senderNotJoined', 'sender is not joined');
  // 4.3 "If target user's current membership state is join or ban, reject."
  const targetMembership = membershipOf(ctx, event.state_key as string);
  if (targetMembership === 'join' || targetMembership === 'ban') {
    return reject(v, 'member.invite.targetJoinedOrBanned', `target is already ${targetMembership === 'join' ? 'joined' : 'banned'}`);
  }
  // 4.4 "If the sender's power level is greater than or equal to the invite level, allow."
  if (ctx.senderPower >= getNamedLevel('invite', ctx.powerLevels, v)) return allow(v, 'member.invite.allow');
  // 4.5 "Otherwise, reject."
  return reject(v, 'member.invite.otherwise', 'sender power level is below the invite level');
}

function checkLeave(ctx: RuleContext): AuthResult {
  const { event, v } = ctx;
  const target = event.state_key as string;
  const targetMembership = membershipOf(ctx, target);
  // 5.1 "If the sender matches state_key, allow if and only if that user's current membership state
  // is invite or join" (v7+: "invite, join, or knock").
  if (event.sender === target) {
    if (targetMembership === 'invite' || targetMembership === 'join' || (v.knock && targetMembership === 'knock')) {
      return allow(v, 'member.leave.self');
    }
    return reject(v, 'member.leave.self', `cannot leave with membership ${targetMembership}`);
  }
  // 5.2 "If the sender's current membership state is not join, reject."
  if (membershipOf(ctx, event.sender) !== 'join') return reject(v, 'member.leave.senderNotJoined', 'sender is not joined');
  // 5.3 "If the target user's current membership state is ban, and the sender's power level is less than the ban level, reject."
  if (targetMembership === 'ban' && ctx.senderPower < getNamedLevel('ban', ctx.powerLevels, v)) {
    return reject(v, 'member.leave.targetBanned', 'unbanning needs the ban level');
  }
  // 5.4 "If the sender's power level is greater than or equal to the kick level, and the target
  // user's power level is less than the sender's power level, allow."
  if (ctx.senderPower >= getNamedLevel('kick', ctx.powerLevels, v) && powerOf(ctx, target) < ctx.senderPower) {
    return allow(v, 'member.leave.allow');
  }
  // 5.5 "Otherwise, reject."
  return reject(v, 'member.leave.otherwise', 'sender may not kick the target');
}

function checkBan(ctx: RuleContext): AuthResult {
  const { event, v } = ctx;
  // 6.1 "If the sender's current membership state is not join, reject."
  if (membershipOf(ctx, event.sender) !== 'join') return reject(v, 'member.ban.senderNotJoined', 'sender is not joined');
  // 6.2 "If the sender's power level is greater than or equal to the ban level, and the target user's
  // power level is less than the sender's power level, allow."
  if (ctx.senderPower >= getNamedLevel('ban', ctx.powerLevels, v) && powerOf(ctx, event.state_key as string) < ctx.senderPower) {
    return allow(v, 'member.ban.allow');
  }
  // 6.3 "Otherwise, reject."
  return reject(v, 'member.ban.otherwise', 'sender may not ban the target');
}

function checkKnock(ctx: RuleContext): AuthResult {
  const { event, v } = ctx;
  // 7.1 "If the join_rule is anything other than knock (v10+: or knock_restricted), reject."
  const joinRule = joinRuleOf(ctx);
  if (joinRule !== 'knock' && !(v.knockRestrictedJoinRule && joinRule === 'knock_restricted')) {
    return reject(v, 'member.knock.joinRule', `join rule ${joinRule} does not allow knocking`);
  }
  // 7.2 "If sender does not match state_key, reject."
  if (event.sender !== event.state_key) return reject(v, 'member.knock.notSelf', 'cannot knock on behalf of another user');
  // 7.3 "If the sender's current membership is not ban, invite, or join, allow."
  const current = membershipOf(ctx, event.sender);
  if (current !== 'ban' && current !== 'invite' && current !== 'join') return allow(v, 'member.knock.allow');
  // 7.4 "Otherwise, reject."
  return reject(v, 'member.knock.otherwise', `cannot knock with membership ${current}`);
}
