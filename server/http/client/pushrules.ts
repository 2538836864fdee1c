/**
 * Push rules API. Spec: client-server-api/modules/push.md "Push Rules: API" (pushrules.yaml):
 * GET /pushrules/, GET /pushrules/global/, GET/PUT/DELETE /pushrules/global/{kind}/{ruleId},
 * GET/PUT …/enabled and …/actions.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { isPushRuleKind } from '../../services/push-rules.ts';
import type { PushAction, PushCondition, PushRuleKind } from '../../protocol/push-rules-defaults.ts';
import { badJson, invalidParam, missingParam, unrecognized } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { queryString, v3 } from './account-params.ts';

/** Spec "Actions": notify; dont_notify and coalesce are historical (accepted, no effect); set_tweak objects. */
function parseActions(v: unknown): PushAction[] {
  if (v === undefined) throw missingParam('Missing actions');
  if (!Array.isArray(v)) throw badJson('actions must be an array');
  if (v.length > 32) throw invalidParam('Too many actions');
  for (const a of v) {
    if (typeof a === 'string') {
      if (!['notify', 'dont_notify', 'coalesce'].includes(a)) throw invalidParam(`Unrecognised action ${a}`);
    } else if (typeof a === 'object' && a !== null && !Array.isArray(a)) {
      if (typeof (a as { set_tweak?: unknown }).set_tweak !== 'string') throw invalidParam('An action object needs a set_tweak string');
    } else {
      throw badJson('Each action must be a string or an object');
    }
  }
  if (JSON.stringify(v).length > 4096) throw invalidParam('actions are too large');
  return v as PushAction[];
}

function parseConditions(v: unknown): PushCondition[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw badJson('conditions must be an array');
  if (v.length > 32) throw invalidParam('Too many conditions');
  for (const c of v) {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw badJson('Each condition must be an object');
    const cond = c as Record<string, unknown>;
    if (typeof cond.kind !== 'string') throw badJson('Each condition needs a kind string');
    for (const k of ['key', 'pattern', 'is'] as const) {
      if (cond[k] !== undefined && typeof cond[k] !== 'string') throw badJson(`condition ${k} must be a string`);
    }
    if (cond.value !== undefined && cond.value !== null && !['string', 'number', 'boolean'].includes(typeof cond.value)) {
      throw badJson('condition value must be a string, integer, boolean or null');
    }
  }
  if (JSON.stringify(v).length > 8192) throw invalidParam('conditions are too large');
  return v as PushCondition[];
}

function ruleParams(ctx: Koa.Context): { kind: PushRuleKind; ruleId: string } {
  const { scope, kind, ruleId } = ctx.params as { scope: string; kind: string; ruleId: string };
  if (scope !== 'global') throw unrecognized('Unknown push rule scope (only global exists)', 400);
  if (!isPushRuleKind(kind)) throw invalidParam(`Unknown push rule kind ${kind}`);
  return { kind, ruleId };
}

export function pushRulesRoutes(router: Router, s: Services): void {
  const rules = s.pushRules;
  router.get([...v3('/pushrules/'), ...v3('/pushrules')], requireAuth(s), async (ctx) => {
    ctx.body = await rules.getPushRules(authOf(ctx).userId);
  });

  router.get([...v3('/pushrules/global/'), ...v3('/pushrules/global')], requireAuth(s), async (ctx) => {
    ctx.body = await rules.ruleset(authOf(ctx).userId);
  });

  const rulePath = v3('/pushrules/:scope/:kind/:ruleId');
  router.get(rulePath, requireAuth(s), async (ctx) => {
    const { kind, ruleId } = ruleParams(ctx);
    ctx.body = await rules.getRule(authOf(ctx).userId, kind, ruleId);
  });

  router.delete(rulePath, requireAuth(s), async (ctx) => {
    const { kind, ruleId } = ruleParams(ctx);
    if (ruleId.startsWith('.')) throw invalidParam('Server-default rules cannot be deleted (disable them instead)');
    await rules.deleteRule(authOf(ctx).userId, kind, ruleId);
    ctx.body = {};
  });

  router.put(rulePath, requireAuth(s), async (ctx) => {
    const { kind, ruleId } = ruleParams(ctx);
    // Spec: rule IDs starting with "." are reserved for server-default rules; "/" and "\" are not allowed.
    if (ruleId.startsWith('.')) throw invalidParam('Rule IDs starting with "." are reserved for server-default rules');
    if (/[/\\]/.test(ruleId) || ruleId.length === 0 || ruleId.length > 255) throw invalidParam('Invalid rule ID');
    const before = queryString(ctx.query, 'before');
    const after = queryString(ctx.query, 'after');
    const body = await readJson(ctx);
    const actions = parseActions(body.actions);
    let conditions: PushCondition[] | undefined;
    let pattern: string | undefined;
    if (kind === 'override' || kind === 'underride') conditions = parseConditions(body.conditions);
    if (kind === 'content') {
      if (body.pattern === undefined) throw missingParam('Content rules need a pattern');
      if (typeof body.pattern !== 'string') throw badJson('pattern must be a string');
      if (body.pattern.length > 1024) throw invalidParam('pattern is too long');
      pattern = body.pattern;
    }
    await rules.putRule(authOf(ctx).userId, kind, ruleId, { actions, conditions, pattern }, { before, after });
    ctx.body = {};
  });

  router.get(v3('/pushrules/:scope/:kind/:ruleId/enabled'), requireAuth(s), async (ctx) => {
    const { kind, ruleId } = ruleParams(ctx);
    ctx.body = { enabled: (await rules.getRule(authOf(ctx).userId, kind, ruleId)).enabled };
  });

  router.put(v3('/pushrules/:scope/:kind/:ruleId/enabled'), requireAuth(s), async (ctx) => {
    const { kind, ruleId } = ruleParams(ctx);
    const body = await readJson(ctx);
    if (body.enabled === undefined) throw missingParam('Missing enabled');
    if (typeof body.enabled !== 'boolean') throw badJson('enabled must be a boolean');
    await rules.setEnabled(authOf(ctx).userId, kind, ruleId, body.enabled);
    ctx.body = {};
  });

  router.get(v3('/pushrules/:scope/:kind/:ruleId/actions'), requireAuth(s), async (ctx) => {
    const { kind, ruleId } = ruleParams(ctx);
    ctx.body = { actions: (await rules.getRule(authOf(ctx).userId, kind, ruleId)).actions };
  });

  router.put(v3('/pushrules/:scope/:kind/:ruleId/actions'), requireAuth(s), async (ctx) => {
    const { kind, ruleId } = ruleParams(ctx);
    const body = await readJson(ctx);
    await rules.setActions(authOf(ctx).userId, kind, ruleId, parseActions(body.actions));
    ctx.body = {};
  });
}
