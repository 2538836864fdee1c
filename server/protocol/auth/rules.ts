/**
 * The outline of the authorization rules per room version, so a check can report the rule number
 * the spec uses for that version (rooms/v1.md "Authorisation rules" numbers the membership rules 5.x,
 * v6 removed the aliases rule so they became 4.x, v12 inserted the room-ID rule so they are 5.x again).
 * Rule IDs are stable names; numbers are derived by walking the outline. Numbers are the rendered
 * ones: v12's source text skips "3.4" and repeats "10.10"; rendered, those are 3.4 and 10.11.
 */
import type { RoomVersion } from '../room-versions.ts';
import type { AuthResult } from './types.ts';

type Outline = Array<string | [string, Outline]>;

function when<T>(cond: boolean, ...items: T[]): T[] {
  return cond ? items : [];
}

function outline(v: RoomVersion): Outline {
  const create: Outline = [
    'prevEvents',
    v.roomIdFromCreateEvent ? 'hasRoomId' : 'roomDomain',
    'roomVersion',
    ...when(!v.implicitCreator, 'noCreator'),
    ...when(v.privilegedCreators, 'additionalCreators'),
    'allow',
  ];
  const authEvents: Outline = ['duplicate', 'unexpected', 'rejected', ...when(!v.roomIdFromCreateEvent, 'noCreate'), 'roomIdMismatch'];
  const join: Outline = [
    'creatorFirst',
    'notSelf',
    'banned',
    'invite',
    ...when<[string, Outline]>(v.restrictedJoinRule, ['restricted', ['alreadyMember', 'authoriser', 'allow']]),
    'public',
    'otherwise',
  ];
  const thirdParty: Outline = ['targetBanned', 'noSigned', 'signedFields', 'mxidMismatch', 'noToken', 'senderMismatch', 'signatureValid', 'otherwise'];
  const member: Outline = [
    'shape',
    ...when(v.restrictedJoinRule, 'joinAuthorisedSignature'),
    ['join', join],
    ['invite', [['thirdParty', thirdParty], 'senderNotJoined', 'targetJoinedOrBanned', 'allow', 'otherwise']],
    ['leave', ['self', 'senderNotJoined', 'targetBanned', 'allow', 'otherwise']],
    ['ban', ['senderNotJoined', 'allow', 'otherwise']],
    ...when<[string, Outline]>(v.knock, ['knock', ['joinRule', 'notSelf', 'allow', 'otherwise']]),
    'unknown',
  ];
  const powerLevels: Outline = [
    ...when(v.integerPowerLevels, 'integers', 'objects'),
    'users',
    ...when(v.privilegedCreators, 'creators'),
    'noPrevious',
    ['scalars', ['current', 'new']],
    'eventsRemoved',
    'eventsAdded',
    'usersRemoved',
    'usersAdded',
    'allow',
  ];
  return [
    ['create', create],
    ...when(v.roomIdFromCreateEvent, 'roomIdIsCreate'),
    ['authEvents', authEvents],
    'federate',
    ...when<[string, Outline]>(v.specialCaseAliasesAuth, ['aliases', ['noStateKey', 'wrongDomain', 'allow']]),
    ['member', member],
    'senderNotJoined',
    'thirdPartyInvite',
    'requiredPower',
    'stateKeyUser',
    ['powerLevels', powerLevels],
    ...when<[string, Outline]>(v.redactionAuthRule, ['redaction', ['powerLevel', 'sameDomain', 'otherwise']]),
    'allow',
  ];
}

interface Numbering {
  numbers: Map<string, string>;
  leaves: string[];
}

const cache = new Map<string, Numbering>();

function numbering(v: RoomVersion): Numbering {
  let n = cache.get(v.id);
  if (n) return n;
  const numbers = new Map<string, string>();
  const leaves: string[] = [];
  const walk = (items: Outline, idPrefix: string, numPrefix: string): void => {
    items.forEach((item, i) => {
      const num = numPrefix ? `${numPrefix}.${i + 1}` : `${i + 1}`;
      const [name, children] = typeof item === 'string' ? [item, undefined] : item;
      const id = idPrefix ? `${idPrefix}.${name}` : name;
      numbers.set(id, num);
      if (children) walk(children, id, num);
      else leaves.push(id);
    });
  };
  walk(outline(v), '', '');
  n = { numbers, leaves };
  cache.set(v.id, n);
  return n;
}

/** The spec's number for rule `ruleId` in room version `v` ("?" if the version has no such rule). */
export function ruleNumber(v: RoomVersion, ruleId: string): string {
  return numbering(v).numbers.get(ruleId) ?? '?';
}

/** Every leaf rule of version `v` (for coverage tests: each must be exercised at least once). */
export function leafRuleIds(v: RoomVersion): readonly string[] {
  return numbering(v).leaves;
}

/** A rejection by rule `ruleId`. */
export function reject(v: RoomVersion, ruleId: string, reason: string): AuthResult {
  return { ok: false, reason, rule: ruleNumber(v, ruleId), ruleId };
}

/** An acceptance by rule `ruleId`. */
export function allow(v: RoomVersion, ruleId: string): AuthResult {
  return { ok: true, rule: ruleNumber(v, ruleId), ruleId };
}
