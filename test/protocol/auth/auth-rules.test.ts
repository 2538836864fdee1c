/**
 * The authorization rules of room versions 1–12 as tables of accepted and rejected events. Every
 * case runs in every version it applies to with real signed events; a final check per version
 * proves that each numbered rule of that version was exercised by at least one case.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leafRuleIds, ruleNumber } from '../../../server/protocol/auth/rules.ts';
import { ROOM_VERSIONS } from '../../../server/protocol/room-versions.ts';
import { joinCases } from './cases-join.ts';
import { membershipCases } from './cases-membership.ts';
import { powerCases } from './cases-power.ts';
import { roomCases } from './cases-room.ts';
import { Harness, type AuthCase } from './harness.ts';

const tables: Array<[string, AuthCase[]]> = [
  ['create, auth events, generic rules', roomCases],
  ['joins', joinCases],
  ['invites, leaves, bans, knocks', membershipCases],
  ['power levels and redactions', powerCases],
];

for (const v of ROOM_VERSIONS.values()) {
  describe(`room version ${v.id}`, () => {
    const hit = new Set<string>();
    for (const [title, cases] of tables) {
      describe(title, () => {
        for (const c of cases) {
          if (c.versions && !c.versions(v)) continue;
          const [outcome, ruleId] = typeof c.expect === 'function' ? c.expect(v) : c.expect;
          it(`${c.name} → ${outcome} by rule ${ruleNumber(v, ruleId)} (${ruleId})`, () => {
            const r = c.run(new Harness(v));
            hit.add(r.ok ? (r.ruleId ?? '') : r.ruleId);
            assert.deepEqual(
              { ok: r.ok, ruleId: r.ruleId, rule: r.rule },
              { ok: outcome === 'allow', ruleId, rule: ruleNumber(v, ruleId) },
              r.ok ? 'accepted' : `rejected: ${r.reason}`,
            );
          });
        }
      });
    }
    it('exercises every numbered rule of this version', () => {
      const missing = leafRuleIds(v).filter((id) => !hit.has(id));
      assert.deepEqual(missing, []);
    });
  });
}
