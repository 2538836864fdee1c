/**
 * Per-user push rules: the spec's server defaults merged with the user's own rules and changes.
 * Spec: client-server-api/modules/push.md "Push Rules" and "Push Rules: API".
 *
 * For other areas: `getPushRules(userId)` returns `{ global: ruleset }` exactly as GET /pushrules/
 * (and the m.push_rules account data in /sync) shows it; `evaluationOrder()` in
 * server/protocol/push-rules-defaults.ts flattens it for an evaluator. Rulesets are cached per
 * user (evaluation runs for every member of a room on every message); `onChanged` hooks run
 * after every committed change (e.g. to wake /sync with a new m.push_rules).
 */
import { MatrixError, notFound } from '../http/errors.ts';
import { PushRulesStore } from '../storage/push-rules-store.ts';
import {
  buildRuleset,
  PUSH_RULE_KINDS,
  type DefaultRuleOverride,
  type PushAction,
  type PushCondition,
  type PushRule,
  type PushRuleKind,
  type PushRuleset,
} from '../protocol/push-rules-defaults.ts';
import type { Services } from './container.ts';

const CACHE_MAX = 5000;

export interface NewPushRule {
  actions: PushAction[];
  conditions?: PushCondition[];
  pattern?: string;
}

export class PushRulesService {
  readonly store: PushRulesStore;
  /** Called (after commit) with the user whose rules changed. */
  readonly onChanged: Array<(userId: string) => void> = [];
  private cache = new Map<string, PushRuleset>();
  /** Bumped on every change: a read that raced with a change is not cached. */
  private generation = 0;

  constructor(private readonly s: Services) {
    this.store = new PushRulesStore(s.db);
  }

  /** The user's rules as GET /pushrules/ returns them. Treat the result as read-only (it is cached). */
  async getPushRules(userId: string): Promise<{ global: PushRuleset }> {
    return { global: await this.ruleset(userId) };
  }

  async ruleset(userId: string): Promise<PushRuleset> {
    const cached = this.cache.get(userId);
    if (cached) return cached;
    const gen = this.generation;
    const [rows, changes] = await Promise.all([this.store.userRules(userId), this.store.defaultChanges(userId)]);
    const user: Record<PushRuleKind, PushRule[]> = { override: [], content: [], room: [], sender: [], underride: [] };
    for (const r of rows) {
      const kind = r.kind as PushRuleKind;
      if (!user[kind]) continue;
      const rule: PushRule = { rule_id: r.rule_id, default: false, enabled: r.enabled === 1, actions: JSON.parse(r.actions) as PushAction[] };
      if (kind === 'override' || kind === 'underride') rule.conditions = r.conditions ? (JSON.parse(r.conditions) as PushCondition[]) : [];
      if (kind === 'content') rule.pattern = r.pattern ?? '';
      user[kind].push(rule);
    }
    const overrides: DefaultRuleOverride[] = changes.map((c) => ({
      kind: c.kind as PushRuleKind,
      rule_id: c.rule_id,
      enabled: c.enabled === null ? null : c.enabled === 1,
      actions: c.actions === null ? null : (JSON.parse(c.actions) as PushAction[]),
    }));
    const set = buildRuleset(userId, user, overrides);
    if (gen === this.generation) {
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(userId, set);
    }
    return set;
  }

  async getRule(userId: string, kind: PushRuleKind, ruleId: string): Promise<PushRule> {
    const rule = (await this.ruleset(userId))[kind].find((r) => r.rule_id === ruleId);
    if (!rule) throw notFound('The push rule was not found.');
    return rule;
  }

  /**
   * PUT /pushrules/global/{kind}/{ruleId}: creates or updates a user-defined rule. Without
   * before/after a new rule becomes the most important of its kind and an updated rule keeps
   * its place; `before` wins when both are given (spec).
   */
  async putRule(userId: string, kind: PushRuleKind, ruleId: string, rule: NewPushRule, place: { before?: string; after?: string }): Promise<void> {
    await this.s.db.write(async (tx) => {
      const order = await this.store.orderedIds(tx, userId, kind);
      const existed = order.includes(ruleId);
      await this.store.upsert(tx, {
        userId,
        kind,
        ruleId,
        conditions: kind === 'override' || kind === 'underride' ? JSON.stringify(rule.conditions ?? []) : null,
        pattern: kind === 'content' ? (rule.pattern ?? null) : null,
        actions: JSON.stringify(rule.actions),
      });
      const anchor = place.before ?? place.after;
      if (anchor !== undefined || !existed) {
        const rest = order.filter((id) => id !== ruleId);
        let at = 0;
        if (anchor !== undefined) {
          const i = rest.indexOf(anchor);
          if (i < 0 || anchor === ruleId) throw new MatrixError(400, 'M_UNKNOWN', `before/after rule not found: ${anchor}`);
          at = place.before !== undefined ? i : i + 1;
        }
        rest.splice(at, 0, ruleId);
        await this.store.setOrder(tx, userId, kind, rest);
      }
      tx.afterCommit(() => this.changed(userId));
    });
  }

  async deleteRule(userId: string, kind: PushRuleKind, ruleId: string): Promise<void> {
    const deleted = await this.s.db.write(async (tx) => {
      const ok = await this.store.delete(tx, userId, kind, ruleId);
      if (ok) tx.afterCommit(() => this.changed(userId));
      return ok;
    });
    if (!deleted) throw notFound('The push rule was not found.');
  }

  async setEnabled(userId: string, kind: PushRuleKind, ruleId: string, enabled: boolean): Promise<void> {
    await this.change(userId, kind, ruleId, { enabled });
  }

  async setActions(userId: string, kind: PushRuleKind, ruleId: string, actions: PushAction[]): Promise<void> {
    await this.change(userId, kind, ruleId, { actions: JSON.stringify(actions) });
  }

  /** Account deactivation: forget the user's rules. */
  async deleteAll(userId: string): Promise<void> {
    await this.s.db.write(async (tx) => {
      await this.store.deleteAllForUser(tx, userId);
      tx.afterCommit(() => this.changed(userId));
    });
  }

  private async change(userId: string, kind: PushRuleKind, ruleId: string, c: { enabled?: boolean; actions?: string }): Promise<void> {
    const current = await this.getRule(userId, kind, ruleId);
    await this.s.db.write(async (tx) => {
      if (current.default) {
        await this.store.changeDefault(tx, userId, kind, ruleId, c);
      } else {
        const ok =
          c.enabled !== undefined
            ? await this.store.setEnabled(tx, userId, kind, ruleId, c.enabled)
            : await this.store.setActions(tx, userId, kind, ruleId, c.actions!);
        if (!ok) throw notFound('The push rule was not found.');
      }
      tx.afterCommit(() => this.changed(userId));
    });
  }

  private changed(userId: string): void {
    this.generation++;
    this.cache.delete(userId);
    for (const hook of this.onChanged) {
      try {
        hook(userId);
      } catch (err) {
        this.s.log.error({ err }, 'push rules hook failed');
      }
    }
  }
}

export function isPushRuleKind(k: string): k is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(k);
}
