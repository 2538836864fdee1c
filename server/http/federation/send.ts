/**
 * PUT /_matrix/federation/v1/send/{txnId} (server-server-api "Transactions"): at most 50 PDUs and
 * 100 EDUs; each PDU gets a result (an `error` when it was dropped or refused — never an error
 * response for the whole transaction); EDUs are applied best-effort. A transaction already
 * processed (same origin and ID) is answered with the same response without processing again.
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import { badJson, forbidden } from '../errors.ts';
import { signed } from './auth.ts';

const MAX_PDUS = 50;
const MAX_EDUS = 100;

export function sendRoutes(router: Router, s: Services): void {
  const inflight = new Map<string, Promise<unknown>>();

  router.put(
    '/_matrix/federation/v1/send/:txnId',
    signed(s, async (ctx, origin) => {
      const body = ctx.state.jsonBody as Record<string, unknown>;
      if (body.origin !== undefined && body.origin !== origin) throw forbidden('origin does not match the signing server');
      const pdus = body.pdus ?? [];
      const edus = body.edus ?? [];
      if (!Array.isArray(pdus) || !Array.isArray(edus)) throw badJson('pdus and edus must be arrays');
      if (pdus.length > MAX_PDUS || edus.length > MAX_EDUS) {
        throw badJson(`A transaction holds at most ${MAX_PDUS} PDUs and ${MAX_EDUS} EDUs`);
      }
      const txnId = ctx.params.txnId!;
      const key = `${origin}\u0000${txnId}`;
      const done = await s.federation.queue.inboundResponse(origin, txnId);
      if (done) {
        ctx.body = JSON.parse(done);
        return;
      }
      let running = inflight.get(key);
      if (!running) {
        running = s.federation.receiveTransaction(origin, txnId, pdus, edus).finally(() => inflight.delete(key));
        inflight.set(key, running);
      }
      ctx.body = await running;
    }),
  );
}
