/**
 * The setup wizard's JSON API, /_hearth/api/setup/*. Every call needs the setup token
 * (X-Hearth-Setup-Token) and works only until setup finishes. GET /_hearth/api/status is
 * public: the UI uses it to decide between the wizard and the dashboard sign-in.
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import { readJson } from '../middleware/json-body.ts';
import { requireSetupToken } from './guards.ts';
import * as wizard from '../../appliance/setup/wizard.ts';
import { HEARTH_VERSION } from '../../version.ts';

export function setupRoutes(router: Router, s: Services): void {
  router.get('/_hearth/api/status', async (ctx) => {
    const row = await s.appliance.setup();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      version: HEARTH_VERSION,
      setup: row.completed_ts ? 'complete' : 'open',
      server_name: s.config.server_name,
      base_url: row.completed_ts && s.appliance.publicHost() ? `https://${s.appliance.publicHost()}`.replace(/:443$/, '') : null,
    };
  });

  const guard = requireSetupToken(s);
  const body = (ctx: Koa.Context) => readJson<Record<string, unknown>>(ctx);
  const noStore: Koa.Middleware = async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  };
  const p = '/_hearth/api/setup';

  // Claim: just checks the token (the UI then keeps it for the session).
  router.post(`${p}/claim`, noStore, guard, async (ctx) => {
    ctx.body = { ok: true, state: await wizard.wizardState(s) };
  });
  router.get(`${p}/state`, noStore, guard, async (ctx) => {
    ctx.body = await wizard.wizardState(s);
  });
  router.put(`${p}/step`, noStore, guard, async (ctx) => {
    ctx.body = await wizard.goTo(s, String((await body(ctx)).step ?? ''));
  });
  router.post(`${p}/mode`, noStore, guard, async (ctx) => {
    ctx.body = await wizard.chooseMode(s, (await body(ctx)).mode);
  });
  router.post(`${p}/admin`, noStore, guard, async (ctx) => {
    const b = await body(ctx);
    ctx.body = await wizard.setAdmin(s, b.localpart, b.password);
  });
  router.post(`${p}/names/check`, noStore, guard, async (ctx) => {
    const b = await body(ctx);
    ctx.body = await wizard.checkNames(s, b.server_name, b.host);
  });
  router.post(`${p}/names`, noStore, guard, async (ctx) => {
    const b = await body(ctx);
    ctx.body = await wizard.saveNames(s, b.server_name, b.host);
  });
  router.post(`${p}/certificate`, noStore, guard, async (ctx) => {
    const b = await body(ctx);
    ctx.body = await wizard.startCertificate(s, b.challenge, b.email);
  });
  router.post(`${p}/certificate/cancel`, noStore, guard, async (ctx) => {
    s.appliance.certs.cancel();
    ctx.body = await wizard.wizardState(s);
  });
  router.post(`${p}/delegation/check`, noStore, guard, async (ctx) => {
    ctx.body = await wizard.delegationCheck(s);
  });
  router.post(`${p}/selftest`, noStore, guard, async (ctx) => {
    ctx.body = await wizard.selfTest(s);
  });
  router.post(`${p}/finish`, noStore, guard, async (ctx) => {
    ctx.body = await wizard.finish(s);
  });
}
