/**
 * The notary endpoints (server-server-api "Querying Keys Through Another Server"):
 * GET /_matrix/key/v2/query/{serverName} and POST /_matrix/key/v2/query. Each server's own
 * self-signed key response is returned countersigned by us; servers that cannot be reached and
 * have nothing cached are left out. Not authenticated (anyone may ask a notary).
 */
import type Router from '@koa/router';
import type { Services } from '../../services/container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { parseServerName } from '../../services/federation/discovery.ts';
import { readJson } from '../middleware/json-body.ts';
import { badJson, invalidParam } from '../errors.ts';

/** At most this many servers per batch query, so one request cannot fan out without bound. */
const MAX_SERVERS = 50;

async function answer(s: Services, servers: Array<{ server: string; minValid: number }>): Promise<JsonObject[]> {
  const out: JsonObject[] = [];
  await Promise.all(
    servers.map(async ({ server, minValid }) => {
      if (!parseServerName(server)) return;
      const resp = await s.federation.keys.responseFor(server, minValid).catch(() => undefined);
      if (resp) out.push(s.federation.keys.countersign(resp));
    }),
  );
  return out;
}

export function keyQueryRoutes(router: Router, s: Services): void {
  router.get('/_matrix/key/v2/query/:serverName', async (ctx) => {
    const raw = ctx.query.minimum_valid_until_ts;
    const minValid = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : s.now();
    if (raw !== undefined && typeof raw !== 'string') throw invalidParam('minimum_valid_until_ts must be an integer');
    ctx.body = { server_keys: await answer(s, [{ server: ctx.params.serverName!, minValid }]) };
  });

  router.post('/_matrix/key/v2/query', async (ctx) => {
    const body = await readJson(ctx, 256 * 1024);
    const q = body.server_keys;
    if (typeof q !== 'object' || q === null || Array.isArray(q)) throw badJson('server_keys must be an object');
    const wanted: Array<{ server: string; minValid: number }> = [];
    for (const [server, criteria] of Object.entries(q as Record<string, unknown>).slice(0, MAX_SERVERS)) {
      let minValid = s.now();
      if (typeof criteria === 'object' && criteria !== null) {
        for (const c of Object.values(criteria as Record<string, unknown>)) {
          const m = (c as { minimum_valid_until_ts?: unknown } | null)?.minimum_valid_until_ts;
          if (typeof m === 'number' && Number.isFinite(m)) minValid = Math.max(minValid, m);
        }
      }
      wanted.push({ server, minValid });
    }
    ctx.body = { server_keys: await answer(s, wanted) };
  });
}
