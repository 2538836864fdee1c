/** Push rules (tables push_rules, push_rule_default_changes). Conditions and actions are JSON text. */
import type { Database, WriteTx } from './db.ts';

export interface PushRuleRow {
  kind: string;
  rule_id: string;
  priority: number;
  conditions: string | null;
  pattern: string | null;
  actions: string;
  enabled: number;
}

export interface DefaultChangeRow {
  kind: string;
  rule_id: string;
  enabled: number | null;
  actions: string | null;
}

export class PushRulesStore {
  constructor(private readonly db: Database) {}

  /** User-defined rules, most important first within each kind. */
  userRules(userId: string): Promise<PushRuleRow[]> {
    return this.db.all<PushRuleRow>(
      'SELECT kind, rule_id, priority, conditions, pattern, actions, enabled FROM push_rules WHERE user_id = ? ORDER BY kind, priority DESC',
      [userId],
    );
  }

  defaultChanges(userId: string): Promise<DefaultChangeRow[]> {
    return this.db.all<DefaultChangeRow>('SELECT kind, rule_id, enabled, actions FROM push_rule_default_changes WHERE user_id = ?', [userId]);
  }

  /** Rule IDs of one kind, most important first (for before/after placement). */
  async orderedIds(tx: WriteTx, userId: string, kind: string): Promise<string[]> {
    const rows = await tx.all<{ rule_id: string }>('SELECT rule_id FROM push_rules WHERE user_id = ? AND kind = ? ORDER BY priority DESC', [
      userId,
      kind,
    ]);
    return rows.map((r) => r.rule_id);
  }

  async upsert(
    tx: WriteTx,
    r: { userId: string; kind: string; ruleId: string; conditions: string | null; pattern: string | null; actions: string },
  ): Promise<void> {
    // New rules start enabled (spec); an updated rule keeps its enabled flag and position.
    await tx.run(
      `INSERT INTO push_rules (user_id, kind, rule_id, priority, conditions, pattern, actions, enabled) VALUES (?, ?, ?, 0, ?, ?, ?, 1)
       ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET conditions = excluded.conditions, pattern = excluded.pattern, actions = excluded.actions`,
      [r.userId, r.kind, r.ruleId, r.conditions, r.pattern, r.actions],
    );
  }

  /** Rewrites priorities so `orderedIds[0]` is the most important (one statement). */
  async setOrder(tx: WriteTx, userId: string, kind: string, orderedIds: string[]): Promise<void> {
    if (orderedIds.length === 0) return;
    const cases = orderedIds.map(() => 'WHEN ? THEN ?').join(' ');
    const params: (string | number)[] = [];
    orderedIds.forEach((id, i) => params.push(id, orderedIds.length - i));
    await tx.run(`UPDATE push_rules SET priority = CASE rule_id ${cases} END WHERE user_id = ? AND kind = ? AND rule_id IN (${orderedIds.map(() => '?').join(',')})`, [
      ...params,
      userId,
      kind,
      ...orderedIds,
    ]);
  }

  async delete(tx: WriteTx, userId: string, kind: string, ruleId: string): Promise<boolean> {
    const r = await tx.run('DELETE FROM push_rules WHERE user_id = ? AND kind = ? AND rule_id = ?', [userId, kind, ruleId]);
    return r.changes > 0;
  }

  async setEnabled(tx: WriteTx, userId: string, kind: string, ruleId: string, enabled: boolean): Promise<boolean> {
    const r = await tx.run('UPDATE push_rules SET enabled = ? WHERE user_id = ? AND kind = ? AND rule_id = ?', [enabled ? 1 : 0, userId, kind, ruleId]);
    return r.changes > 0;
  }

  async setActions(tx: WriteTx, userId: string, kind: string, ruleId: string, actions: string): Promise<boolean> {
    const r = await tx.run('UPDATE push_rules SET actions = ? WHERE user_id = ? AND kind = ? AND rule_id = ?', [actions, userId, kind, ruleId]);
    return r.changes > 0;
  }

  async changeDefault(tx: WriteTx, userId: string, kind: string, ruleId: string, change: { enabled?: boolean; actions?: string }): Promise<void> {
    await tx.run(
      `INSERT INTO push_rule_default_changes (user_id, kind, rule_id, enabled, actions) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET
         enabled = coalesce(excluded.enabled, enabled), actions = coalesce(excluded.actions, actions)`,
      [userId, kind, ruleId, change.enabled === undefined ? null : change.enabled ? 1 : 0, change.actions ?? null],
    );
  }

  async deleteAllForUser(tx: WriteTx, userId: string): Promise<void> {
    await tx.run('DELETE FROM push_rules WHERE user_id = ?', [userId]);
    await tx.run('DELETE FROM push_rule_default_changes WHERE user_id = ?', [userId]);
  }
}
