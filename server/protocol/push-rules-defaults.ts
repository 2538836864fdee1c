/**
 * Push rules as data: the spec's server-default rule set and the order rules are evaluated in.
 * Spec: client-server-api/modules/push.md "Push Rules" and "Predefined Rules" (as of v1.17,
 * which removed the legacy body-matching rules .m.rule.contains_display_name,
 * .m.rule.contains_user_name and .m.rule.roomnotif). Pure: no storage, no clock.
 */

export type PushRuleKind = 'override' | 'content' | 'room' | 'sender' | 'underride';

/** Evaluation order of the kinds (spec: override, content, room, sender, underride). */
export const PUSH_RULE_KINDS: readonly PushRuleKind[] = ['override', 'content', 'room', 'sender', 'underride'];

export type PushAction = string | { set_tweak: string; value?: unknown; [k: string]: unknown };

export interface PushCondition {
  kind: string;
  key?: string;
  pattern?: string;
  is?: string;
  value?: string | number | boolean | null;
  [k: string]: unknown;
}

export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: PushAction[];
  conditions?: PushCondition[];
  pattern?: string;
}

export type PushRuleset = Record<PushRuleKind, PushRule[]>;

const notifySound = (sound: string): PushAction[] => ['notify', { set_tweak: 'sound', value: sound }];

/** The server-default override rules, in priority order, excluding .m.rule.master (always first). */
function defaultOverrides(userId: string): PushRule[] {
  const rule = (rule_id: string, conditions: PushCondition[], actions: PushAction[]): PushRule => ({
    rule_id,
    default: true,
    enabled: true,
    conditions,
    actions,
  });
  return [
    rule('.m.rule.suppress_notices', [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }], []),
    rule(
      '.m.rule.invite_for_me',
      [
        { key: 'type', kind: 'event_match', pattern: 'm.room.member' },
        { key: 'content.membership', kind: 'event_match', pattern: 'invite' },
        { key: 'state_key', kind: 'event_match', pattern: userId },
      ],
      notifySound('default'),
    ),
    rule('.m.rule.member_event', [{ key: 'type', kind: 'event_match', pattern: 'm.room.member' }], []),
    // Since v1.7: intentional mentions.
    rule(
      '.m.rule.is_user_mention',
      [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
      [...notifySound('default'), { set_tweak: 'highlight' }],
    ),
    rule(
      '.m.rule.is_room_mention',
      [
        { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
        { kind: 'sender_notification_permission', key: 'room' },
      ],
      ['notify', { set_tweak: 'highlight' }],
    ),
    rule(
      '.m.rule.tombstone',
      [
        { kind: 'event_match', key: 'type', pattern: 'm.room.tombstone' },
        { kind: 'event_match', key: 'state_key', pattern: '' },
      ],
      ['notify', { set_tweak: 'highlight' }],
    ),
    // Since v1.7.
    rule('.m.rule.reaction', [{ kind: 'event_match', key: 'type', pattern: 'm.reaction' }], []),
    // Since v1.4.
    rule(
      '.m.rule.room.server_acl',
      [
        { kind: 'event_match', key: 'type', pattern: 'm.room.server_acl' },
        { kind: 'event_match', key: 'state_key', pattern: '' },
      ],
      [],
    ),
    // Since v1.9.
    rule('.m.rule.suppress_edits', [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }], []),
  ];
}

function defaultUnderrides(): PushRule[] {
  const rule = (rule_id: string, conditions: PushCondition[], actions: PushAction[]): PushRule => ({
    rule_id,
    default: true,
    enabled: true,
    conditions,
    actions,
  });
  return [
    rule('.m.rule.call', [{ key: 'type', kind: 'event_match', pattern: 'm.call.invite' }], notifySound('ring')),
    rule(
      '.m.rule.encrypted_room_one_to_one',
      [
        { kind: 'room_member_count', is: '2' },
        { kind: 'event_match', key: 'type', pattern: 'm.room.encrypted' },
      ],
      notifySound('default'),
    ),
    rule(
      '.m.rule.room_one_to_one',
      [
        { kind: 'room_member_count', is: '2' },
        { kind: 'event_match', key: 'type', pattern: 'm.room.message' },
      ],
      notifySound('default'),
    ),
    rule('.m.rule.message', [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }], ['notify']),
    rule('.m.rule.encrypted', [{ kind: 'event_match', key: 'type', pattern: 'm.room.encrypted' }], ['notify']),
  ];
}

export const MASTER_RULE_ID = '.m.rule.master';

/** The spec's server-default rules for a user, per kind, in priority order. */
export function defaultPushRules(userId: string): PushRuleset {
  return {
    override: [{ rule_id: MASTER_RULE_ID, default: true, enabled: false, conditions: [], actions: [] }, ...defaultOverrides(userId)],
    content: [],
    room: [],
    sender: [],
    underride: defaultUnderrides(),
  };
}

/** A user-defined rule's change to a server-default rule. */
export interface DefaultRuleOverride {
  kind: PushRuleKind;
  rule_id: string;
  enabled: boolean | null;
  actions: PushAction[] | null;
}

/**
 * Merges server-default rules (with the user's enabled/actions changes) and user-defined rules
 * (already ordered most important first) into the ruleset clients see. Spec: user-defined rules
 * come before server-default ones of the same kind, except .m.rule.master which is always first.
 */
export function buildRuleset(userId: string, userRules: Record<PushRuleKind, PushRule[]>, overrides: DefaultRuleOverride[]): PushRuleset {
  const defaults = defaultPushRules(userId);
  for (const o of overrides) {
    const r = defaults[o.kind].find((x) => x.rule_id === o.rule_id);
    if (!r) continue;
    if (o.enabled !== null) r.enabled = o.enabled;
    if (o.actions !== null) r.actions = o.actions;
  }
  const [master, ...restOverride] = defaults.override;
  return {
    override: [master!, ...userRules.override, ...restOverride],
    content: [...userRules.content, ...defaults.content],
    room: [...userRules.room, ...defaults.room],
    sender: [...userRules.sender, ...defaults.sender],
    underride: [...userRules.underride, ...defaults.underride],
  };
}

/**
 * The rules in the order an evaluator checks them, each with its kind and the conditions that a
 * room, sender or content rule implies (spec: a room rule's rule_id is the room ID, a sender
 * rule's the sender's user ID; a content rule matches `pattern` against content.body at word
 * boundaries — represented here as an event_match on content.body the evaluator treats as such).
 */
export function evaluationOrder(ruleset: PushRuleset): Array<PushRule & { kind: PushRuleKind; conditions: PushCondition[] }> {
  const out: Array<PushRule & { kind: PushRuleKind; conditions: PushCondition[] }> = [];
  for (const kind of PUSH_RULE_KINDS) {
    for (const r of ruleset[kind]) {
      let conditions = r.conditions ?? [];
      if (kind === 'room') conditions = [{ kind: 'event_match', key: 'room_id', pattern: r.rule_id }];
      else if (kind === 'sender') conditions = [{ kind: 'event_match', key: 'sender', pattern: r.rule_id }];
      else if (kind === 'content') conditions = [{ kind: 'event_match', key: 'content.body', pattern: r.pattern ?? '' }];
      out.push({ ...r, kind, conditions });
    }
  }
  return out;
}
