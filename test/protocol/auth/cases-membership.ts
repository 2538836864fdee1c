/** Cases for invites (incl. third-party invites with real ed25519 signatures), leaves/kicks, bans and knocks. */
import type { JsonObject } from '../../../server/protocol/pdu-types.ts';
import { signJson } from '../../../server/protocol/signing.ts';
import { testSigningKey, type TestRoom } from '../../helpers/events.ts';
import { ALICE, BOB, CAROL, DAVE, EVE, allow, reject, type AuthCase, type Harness } from './harness.ts';

const idServer = testSigningKey('id.test');
const otherKey = testSigningKey('other.test');

/** ALICE publishes an m.room.third_party_invite for token "tok" (second key in public_keys). */
function withThirdPartyInvite(h: Harness): TestRoom {
  const room = h.room();
  room.event(
    'm.room.third_party_invite',
    { display_name: 'b…@example.org', key_validity_url: 'https://id.test/isvalid', public_key: otherKey.publicKeyBase64, public_keys: [{ public_key: idServer.publicKeyBase64 }] },
    { state_key: 'tok' },
  );
  return room;
}

function signed(fields: JsonObject, key = idServer): JsonObject {
  return signJson(fields, 'id.test', key.keyId, key.seed);
}

function tpi(s: JsonObject | undefined): JsonObject {
  return { third_party_invite: { display_name: 'b…@example.org', ...(s && { signed: s }) } };
}

const good = () => signed({ mxid: BOB, token: 'tok', sender: ALICE });

export const membershipCases: AuthCase[] = [
  // --- invite -----------------------------------------------------------------------------------
  { name: 'invite: by a joined user', run: (h) => h.member(h.room(), ALICE, BOB, 'invite'), expect: allow('member.invite.allow') },
  { name: 'invite: by a non-member', run: (h) => h.member(h.room(), EVE, BOB, 'invite'), expect: reject('member.invite.senderNotJoined') },
  {
    name: 'invite: target already joined',
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      return h.member(room, ALICE, CAROL, 'invite');
    },
    expect: reject('member.invite.targetJoinedOrBanned'),
  },
  {
    name: 'invite: target banned',
    run: (h) => {
      const room = h.room();
      room.member(ALICE, BOB, 'ban');
      return h.member(room, ALICE, BOB, 'invite');
    },
    expect: reject('member.invite.targetJoinedOrBanned'),
  },
  {
    name: 'invite: below the invite level',
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      h.setPowerLevels(room, { invite: 50 });
      return h.member(room, CAROL, BOB, 'invite');
    },
    expect: reject('member.invite.otherwise'),
  },
  {
    name: 'third-party invite: valid identity-server signature',
    run: (h) => h.member(withThirdPartyInvite(h), ALICE, BOB, 'invite', tpi(good())),
    expect: allow('member.invite.thirdParty.signatureValid'),
  },
  {
    name: 'third-party invite: injected verifier says no',
    run: (h) => h.member(withThirdPartyInvite(h), ALICE, BOB, 'invite', tpi(good()), { verifySignedWithKey: () => false }),
    expect: reject('member.invite.thirdParty.otherwise'),
  },
  {
    name: 'third-party invite: signed by a key the invite does not list',
    run: (h) => h.member(withThirdPartyInvite(h), ALICE, BOB, 'invite', tpi(signed({ mxid: BOB, token: 'tok' }, testSigningKey('rogue.test')))),
    expect: reject('member.invite.thirdParty.otherwise'),
  },
  {
    name: 'third-party invite: target banned',
    run: (h) => {
      const room = withThirdPartyInvite(h);
      room.member(ALICE, BOB, 'ban');
      return h.member(room, ALICE, BOB, 'invite', tpi(good()));
    },
    expect: reject('member.invite.thirdParty.targetBanned'),
  },
  { name: 'third-party invite: no signed', run: (h) => h.member(withThirdPartyInvite(h), ALICE, BOB, 'invite', tpi(undefined)), expect: reject('member.invite.thirdParty.noSigned') },
  {
    name: 'third-party invite: signed without token',
    run: (h) => h.member(withThirdPartyInvite(h), ALICE, BOB, 'invite', tpi(signed({ mxid: BOB }))),
    expect: reject('member.invite.thirdParty.signedFields'),
  },
  {
    name: 'third-party invite: mxid is not the state_key',
    run: (h) => h.member(withThirdPartyInvite(h), ALICE, DAVE, 'invite', tpi(good())),
    expect: reject('member.invite.thirdParty.mxidMismatch'),
  },
  {
    name: 'third-party invite: unknown token',
    run: (h) => h.member(withThirdPartyInvite(h), ALICE, BOB, 'invite', tpi(signed({ mxid: BOB, token: 'nope' }))),
    expect: reject('member.invite.thirdParty.noToken'),
  },
  {
    name: 'third-party invite: sent by someone other than the inviter',
    run: (h) => {
      const room = withThirdPartyInvite(h);
      room.join(CAROL);
      return h.member(room, CAROL, BOB, 'invite', tpi(good()));
    },
    expect: reject('member.invite.thirdParty.senderMismatch'),
  },

  // --- leave / kick -----------------------------------------------------------------------------
  {
    name: 'leave: a joined user leaves',
    run: (h) => {
      const room = h.room();
      room.join(BOB);
      return h.member(room, BOB, BOB, 'leave');
    },
    expect: allow('member.leave.self'),
  },
  {
    name: 'leave: an invited user rejects the invite',
    run: (h) => {
      const room = h.room();
      room.member(ALICE, BOB, 'invite');
      return h.member(room, BOB, BOB, 'leave');
    },
    expect: allow('member.leave.self'),
  },
  { name: 'leave: a stranger “leaves”', run: (h) => h.member(h.room(), BOB, BOB, 'leave'), expect: reject('member.leave.self') },
  {
    name: 'leave: a knocking user withdraws — since v7',
    versions: (v) => v.knock,
    run: (h) => {
      const room = h.room({ joinRule: 'knock' });
      room.member(BOB, BOB, 'knock');
      return h.member(room, BOB, BOB, 'leave');
    },
    expect: allow('member.leave.self'),
  },
  {
    name: 'kick: by a non-member',
    run: (h) => {
      const room = h.room();
      room.join(BOB);
      return h.member(room, EVE, BOB, 'leave');
    },
    expect: reject('member.leave.senderNotJoined'),
  },
  {
    name: 'kick: by an admin',
    run: (h) => {
      const room = h.room();
      room.join(BOB);
      return h.member(room, ALICE, BOB, 'leave');
    },
    expect: allow('member.leave.allow'),
  },
  {
    name: 'kick: by a user below the kick level',
    run: (h) => {
      const room = h.room();
      room.join(BOB);
      room.join(CAROL);
      return h.member(room, CAROL, BOB, 'leave');
    },
    expect: reject('member.leave.otherwise'),
  },
  {
    name: 'unban: needs the ban level, not just the kick level',
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      room.member(ALICE, BOB, 'ban');
      h.setPowerLevels(room, { ban: 70, users: { [CAROL]: 60 } });
      return h.member(room, CAROL, BOB, 'leave');
    },
    expect: reject('member.leave.targetBanned'),
  },

  // --- ban --------------------------------------------------------------------------------------
  { name: 'ban: by an admin', run: (h) => h.member(h.room(), ALICE, BOB, 'ban'), expect: allow('member.ban.allow') },
  { name: 'ban: by a non-member', run: (h) => h.member(h.room(), EVE, BOB, 'ban'), expect: reject('member.ban.senderNotJoined') },
  {
    name: 'ban: by a user below the ban level',
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      return h.member(room, CAROL, BOB, 'ban');
    },
    expect: reject('member.ban.otherwise'),
  },
  {
    name: 'ban: an admin bans an additional creator — creators have infinite power in v12',
    versions: (v) => v.privilegedCreators,
    run: (h) => {
      const room = h.room({ createContent: { additional_creators: [DAVE] } });
      room.join(DAVE);
      room.join(CAROL);
      h.setPowerLevels(room, { users: { [CAROL]: 100 } });
      return h.member(room, CAROL, DAVE, 'ban');
    },
    expect: reject('member.ban.otherwise'),
  },
  {
    name: 'ban: the creator bans a power-100 user (v1–v11: equal power, refused; v12: infinite, allowed)',
    run: (h) => {
      const room = h.room();
      room.join(CAROL);
      h.setPowerLevels(room, { users: { [CAROL]: 100 } });
      return h.member(room, ALICE, CAROL, 'ban');
    },
    expect: (v) => (v.privilegedCreators ? allow('member.ban.allow') : reject('member.ban.otherwise')),
  },

  // --- knock (v7+) ------------------------------------------------------------------------------
  {
    name: 'knock: knock room — knocking exists since v7',
    run: (h) => h.member(h.room({ joinRule: 'knock' }), BOB, BOB, 'knock'),
    expect: (v) => (v.knock ? allow('member.knock.allow') : reject('member.unknown')),
  },
  {
    name: 'knock: knock_restricted room — since v10',
    versions: (v) => v.knock,
    run: (h) => h.member(h.room({ joinRule: { join_rule: 'knock_restricted', allow: [] } }), BOB, BOB, 'knock'),
    expect: (v) => (v.knockRestrictedJoinRule ? allow('member.knock.allow') : reject('member.knock.joinRule')),
  },
  { name: 'knock: public room', versions: (v) => v.knock, run: (h) => h.member(h.room(), BOB, BOB, 'knock'), expect: reject('member.knock.joinRule') },
  {
    name: 'knock: on behalf of another user',
    versions: (v) => v.knock,
    run: (h) => h.member(h.room({ joinRule: 'knock' }), ALICE, BOB, 'knock'),
    expect: reject('member.knock.notSelf'),
  },
  {
    name: 'knock: already invited',
    versions: (v) => v.knock,
    run: (h) => {
      const room = h.room({ joinRule: 'knock' });
      room.member(ALICE, BOB, 'invite');
      return h.member(room, BOB, BOB, 'knock');
    },
    expect: reject('member.knock.otherwise'),
  },
  { name: 'member: unknown membership', run: (h) => h.member(h.room(), BOB, BOB, 'dance'), expect: reject('member.unknown') },
];
