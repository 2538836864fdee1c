/**
 * Plain-HTTP answers the outside world needs from us: ACME HTTP-01 key authorizations
 * (RFC 8555 §8.3, GET /.well-known/acme-challenge/TOKEN, published as files by the server or
 * by `hearth cert obtain`) and the wizard's reachability probe (/_hearth/probe/NONCE).
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { readHttp01 } from '../../appliance/acme/challenge-dir.ts';
import { notFound } from '../errors.ts';

export function acmeChallengeRoutes(router: Router, s: Services): void {
  router.get('/.well-known/acme-challenge/:token', async (ctx) => {
    const answer = readHttp01(s.config.data_dir, ctx.params.token!);
    if (answer === undefined) throw notFound('No such challenge.');
    ctx.type = 'text/plain';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = answer;
  });
  router.get('/_hearth/probe/:nonce', async (ctx) => {
    const nonce = ctx.params.nonce!;
    if (!s.appliance.probes.has(nonce, s.now())) throw notFound('No such probe.');
    ctx.type = 'text/plain';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = nonce;
  });
}
