/** GET /sync and filters (sync.yaml, filter.yaml). */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { forbidden, invalidParam } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { v3, queryString } from './account-params.ts';
import { PRESENCE_VALUES } from '../../services/presence.ts';

export function syncRoutes(router: Router, s: Services): void {
  const auth = requireAuth(s);
  // Long-polls in progress. One shutdown listener aborts them all: a listener per request would
  // pile up on the shared signal (Node warns past 10, and each costs an add and a remove).
  const polls = new Set<AbortController>();
  s.shutdown.addEventListener('abort', () => {
    for (const ac of polls) ac.abort();
  }, { once: true });

  router.get(v3('/sync'), auth, async (ctx) => {
    const a = authOf(ctx);
    const q = ctx.query;
    const timeoutRaw = queryString(q, 'timeout');
    if (timeoutRaw !== undefined && !/^\d+$/.test(timeoutRaw)) throw invalidParam('timeout must be a non-negative integer');
    const fullStateRaw = queryString(q, 'full_state');
    if (fullStateRaw !== undefined && fullStateRaw !== 'true' && fullStateRaw !== 'false') throw invalidParam('full_state must be true or false');
    const setPresence = queryString(q, 'set_presence');
    if (setPresence !== undefined && !PRESENCE_VALUES.includes(setPresence)) throw invalidParam('Unknown set_presence value');
    const since = queryString(q, 'since');
    // Abort the long-poll when the client goes away or the server shuts down.
    const ac = new AbortController();
    const onClose = () => ac.abort();
    ctx.req.once('close', onClose);
    if (s.shutdown.aborted) ac.abort();
    polls.add(ac);
    try {
      ctx.body = await s.sync.sync({
        userId: a.userId,
        deviceId: a.deviceId,
        since: since || undefined,
        timeoutMs: timeoutRaw === undefined ? 0 : Number(timeoutRaw),
        fullState: fullStateRaw === 'true',
        filter: await s.sync.resolveFilter(a.userId, queryString(q, 'filter')),
        setPresence,
        signal: ac.signal,
      });
    } finally {
      ctx.req.off('close', onClose);
      polls.delete(ac);
    }
  });

  router.post(v3('/user/:userId/filter'), auth, async (ctx) => {
    const userId = ctx.params.userId!;
    if (userId !== authOf(ctx).userId) throw forbidden('Cannot create filters for other users');
    const body = await readJson(ctx);
    ctx.body = { filter_id: await s.sync.createFilter(userId, body) };
  });

  router.get(v3('/user/:userId/filter/:filterId'), auth, async (ctx) => {
    const userId = ctx.params.userId!;
    if (userId !== authOf(ctx).userId) throw forbidden('Cannot read filters of other users');
    ctx.body = await s.sync.getFilter(userId, ctx.params.filterId!);
  });
}
