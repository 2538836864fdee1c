/**
 * Push rule evaluation (modules/push.md "Push Rules", "Conditions"): for every event, each local
 * member it concerns (joined members except the sender, and the target of an invite) gets the
 * actions of the first matching enabled rule. `notify` events are counted for unread
 * notifications, `highlight` ones for highlight counts (event_push_actions, staged into the same
 * write job as the event). Rules come from the push-rules area (`getPushRules`) and are cached
 * here compiled; a change there drops the user's entry.
 */
import type { JsonObject, Json } from '../protocol/pdu-types.ts';
import type { PushCondition, PushRule, PushRuleKind, PushRuleset } from '../protocol/push-rules-defaults.ts';
import { evaluationOrder } from '../protocol/push-rules-defaults.ts';
import { getPowerLevel } from '../protocol/auth/index.ts';
import type { PushActionsStore, PushActionRow } from '../storage/push-actions-store.ts';
import type { RoomCore } from './rooms/core.ts';
import type { AppendedEvent, WriteBatch } from './events/write-batch.ts';

type CompiledRule = PushRule & { kind: PushRuleKind; conditions: PushCondition[] };

export interface PushOutcome {
  notify: boolean;
  highlight: boolean;
}

/** Dotted key with `\.` escapes ("content.m\.relates_to.rel_type") → path segments. */
export function splitKey(key: string): string[] {
  return key.split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, '.').replace(/\\\\/g, '\\'));
}

function valueAt(ev: JsonObject, key: string): Json | undefined {
  let cur: Json | undefined = ev;
  for (const p of splitKey(key)) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, p)) return undefined;
    cur = cur[p];
  }
  return cur;
}

const globCache = new Map<string, RegExp>();
/** Glob (`*`, `?`) as a case-insensitive regex; `words`: match at word boundaries anywhere (content.body). */
function globRegex(pattern: string, words: boolean): RegExp {
  const k = (words ? 'w:' : 'e:') + pattern;
  let re = globCache.get(k);
  if (!re) {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = words ? new RegExp(`(^|\\W)${body}(\\W|$)`, 'isu') : new RegExp(`^${body}$`, 'isu');
    if (globCache.size > 2000) globCache.clear();
    globCache.set(k, re);
  }
  return re;
}

function memberCountMatches(is: string | undefined, count: number): boolean {
  const m = /^(==|<=|>=|<|>)?(\d+)$/.exec(is ?? '');
  if (!m) return false;
  const n = Number(m[2]);
  switch (m[1]) {
    case '<':
      return count < n;
    case '>':
      return count > n;
    case '<=':
      return count <= n;
    case '>=':
      return count >= n;
    default:
      return count === n;
  }
}

export interface EvalContext {
  /** The event in client format (type, sender, room_id, state_key, content). */
  event: JsonObject;
  userId: string;
  displayName: () => string | undefined;
  memberCount: number;
  senderPower: number;
  notificationLevel: (key: string) => number;
  /**
   * Results of shared conditions (see Condition.shared) already evaluated for this event: one
   * evaluation serves every member, so a message costs each member a few map lookups.
   */
  memo?: Map<Condition, boolean>;
}

export function conditionMatches(c: PushCondition, x: EvalContext): boolean {
  switch (c.kind) {
    case 'event_match': {
      if (typeof c.key !== 'string' || typeof c.pattern !== 'string') return false;
      const v = valueAt(x.event, c.key);
      if (typeof v !== 'string') return false;
      return globRegex(c.pattern, c.key === 'content.body').test(v);
    }
    case 'event_property_is': {
      if (typeof c.key !== 'string') return false;
      const v = valueAt(x.event, c.key);
      return v !== undefined && (typeof v !== 'object' || v === null) && v === c.value;
    }
    case 'event_property_contains': {
      if (typeof c.key !== 'string') return false;
      const v = valueAt(x.event, c.key);
      return Array.isArray(v) && v.some((e) => (typeof e !== 'object' || e === null) && e === c.value);
    }
    case 'contains_display_name': {
      const body = valueAt(x.event, 'content.body');
      const name = x.displayName();
      if (typeof body !== 'string' || !name) return false;
      return globRegex(name.replace(/[*?]/g, '\\$&'), true).test(body);
    }
    case 'room_member_count':
      return memberCountMatches(typeof c.is === 'string' ? c.is : undefined, x.memberCount);
    case 'sender_notification_permission':
      return typeof c.key === 'string' && x.senderPower >= x.notificationLevel(c.key);
    default:
      // "Unrecognised conditions MUST NOT match any events".
      return false;
  }
}

/**
 * A compiled condition (path split, glob compiled). Identical conditions are one object for every
 * user (interned), so their results can be shared within an event: `shared` when the result
 * depends only on the event and the room (member count, sender power), not on the member —
 * everything but contains_display_name (user-specific values such as a user's ID in
 * is_user_mention or their localpart in contains_user_name are part of the condition itself).
 */
export interface Condition {
  test: (x: EvalContext) => boolean;
  shared: boolean;
}

/** A rule ready to run: compiled conditions and its outcome. */
export interface RunnableRule {
  enabled: boolean;
  preds: Condition[];
  outcome: PushOutcome;
}

const interned = new Map<string, Condition>();

function internCondition(c: PushCondition): Condition {
  const key = JSON.stringify(c);
  let out = interned.get(key);
  if (!out) {
    out = { test: compileCondition(c), shared: c.kind !== 'contains_display_name' };
    // Bounded: per-user conditions (mentions, user names) grow with the number of users.
    if (interned.size >= 20_000) interned.clear();
    interned.set(key, out);
  }
  return out;
}

function compileCondition(c: PushCondition): (x: EvalContext) => boolean {
  if ((c.kind === 'event_match' || c.kind === 'event_property_is' || c.kind === 'event_property_contains') && typeof c.key === 'string') {
    const path = splitKey(c.key);
    const get = (ev: JsonObject): Json | undefined => {
      let cur: Json | undefined = ev;
      for (const p of path) {
        if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, p)) return undefined;
        cur = cur[p];
      }
      return cur;
    };
    if (c.kind === 'event_match') {
      if (typeof c.pattern !== 'string') return () => false;
      const re = globRegex(c.pattern, c.key === 'content.body');
      return (x) => {
        const v = get(x.event);
        return typeof v === 'string' && re.test(v);
      };
    }
    if (c.kind === 'event_property_is') {
      return (x) => {
        const v = get(x.event);
        return v !== undefined && (typeof v !== 'object' || v === null) && v === c.value;
      };
    }
    return (x) => {
      const v = get(x.event);
      return Array.isArray(v) && v.some((e) => (typeof e !== 'object' || e === null) && e === c.value);
    };
  }
  return (x) => conditionMatches(c, x);
}

export function compileRules(rules: readonly CompiledRule[]): RunnableRule[] {
  return rules.map((r) => {
    let notify = false;
    let highlight = false;
    for (const a of r.actions) {
      if (a === 'notify') notify = true;
      else if (typeof a === 'object' && a.set_tweak === 'highlight') highlight = a.value === undefined || a.value === true;
    }
    return { enabled: r.enabled, preds: r.conditions.map(internCondition), outcome: { notify, highlight: notify && highlight } };
  });
}

const NOTHING: PushOutcome = { notify: false, highlight: false };

/** The outcome of the first enabled rule whose conditions all hold. */
export function evaluate(rules: readonly RunnableRule[], x: EvalContext): PushOutcome {
  const memo = x.memo;
  for (const r of rules) {
    if (!r.enabled) continue;
    let ok = true;
    for (const p of r.preds) {
      let v: boolean | undefined;
      if (memo && p.shared) {
        v = memo.get(p);
        if (v === undefined) memo.set(p, (v = p.test(x)));
      } else v = p.test(x);
      if (!v) {
        ok = false;
        break;
      }
    }
    if (ok) return r.outcome;
  }
  return NOTHING;
}

export class PushEvaluator {
  private readonly compiled = new Map<string, RunnableRule[]>();

  constructor(
    private readonly core: RoomCore,
    private readonly store: PushActionsStore,
    /** The push-rules area's getPushRules; undefined → spec defaults only. */
    private readonly getRules: (userId: string) => Promise<{ global: PushRuleset }>,
  ) {}

  /** Drop a user's compiled rules (their rules changed). */
  invalidate(userId: string): void {
    this.compiled.delete(userId);
  }

  private async rules(userId: string): Promise<RunnableRule[]> {
    let r = this.compiled.get(userId);
    if (!r) {
      r = compileRules(evaluationOrder((await this.getRules(userId)).global));
      if (this.compiled.size > 5000) this.compiled.clear();
      this.compiled.set(userId, r);
    }
    return r;
  }

  /** Write-batch hook: stage push actions for the event. */
  readonly hook = async (b: WriteBatch, a: AppendedEvent): Promise<void> => {
    const ev = a.event;
    const server = this.core.serverName();
    const targets = a.after.localWith(server, 'join').filter((u) => u !== ev.sender);
    if (ev.type === 'm.room.member' && ev.stateKey && ev.stateKey !== ev.sender && ev.pdu.content.membership === 'invite' && this.core.isLocalUser(ev.stateKey)) {
      targets.push(ev.stateKey);
    }
    if (targets.length === 0) return;
    const event: JsonObject = { type: ev.type, sender: ev.sender, room_id: ev.roomId, content: ev.pdu.content };
    if (ev.stateKey !== undefined) event.state_key = ev.stateKey;
    const plId = a.before.get('m.room.power_levels');
    const createId = a.before.get('m.room.create');
    const pl = plId ? await this.core.eventCache.get(plId, b.tx) : undefined;
    const create = createId ? await this.core.eventCache.get(createId, b.tx) : undefined;
    const senderPower = getPowerLevel(ev.sender, pl?.pdu, create?.pdu, a.version);
    const notifications = pl?.pdu.content.notifications;
    const notificationLevel = (key: string): number => {
      const v = typeof notifications === 'object' && notifications !== null && !Array.isArray(notifications) ? notifications[key] : undefined;
      return typeof v === 'number' ? v : 50;
    };
    const memberCount = a.after.joined().length;
    const memo = new Map<Condition, boolean>();
    const actions: Array<[string, number]> = [];
    for (const userId of targets) {
      const rules = this.compiled.get(userId) ?? (await this.rules(userId));
      let name: string | undefined | null = null;
      const displayName = () => {
        if (name === null) {
          const id = a.after.get('m.room.member', userId);
          const m = id ? this.core.eventCache.peek(id) : undefined;
          const dn = m?.pdu.content.displayname;
          name = typeof dn === 'string' ? dn : undefined;
        }
        return name;
      };
      const out = evaluate(rules, { event, userId, displayName, memberCount, senderPower, notificationLevel, memo });
      if (out.notify) actions.push([userId, out.highlight ? 1 : 0]);
    }
    if (actions.length === 0) return;
    // Staged on the event's own row when this batch inserts it (the events_append trigger writes
    // them to event_push_actions); otherwise (an event persisted another way) a separate insert.
    let row;
    for (let i = b.eventRows.length - 1; i >= 0 && !row; i--) if (b.eventRows[i]!.event_id === ev.eventId) row = b.eventRows[i];
    if (row) row.push_actions = JSON.stringify(actions);
    else {
      const rows: PushActionRow[] = actions.map(([user_id, highlight]) => ({ user_id, room_id: ev.roomId, stream_ordering: ev.streamOrdering, highlight, thread_id: ev.threadId ?? '' }));
      b.onFlush((tx) => this.store.insert(tx, rows));
    }
  };
}
