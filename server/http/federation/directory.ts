/**
 * Room discovery for other servers and spaces for our clients:
 * - GET/POST /_matrix/federation/v1/publicRooms (public_rooms.yaml): our published directory
 *   only ("SHOULD not return rooms that are listed on another homeserver's directory"), from the
 *   rooms area's Directory; POST adds the generic search term and `room_types`.
 * - GET /_matrix/federation/v1/hierarchy/{roomId} (space_hierarchy.yaml, federation).
 * - GET /_matrix/client/v1/rooms/{roomId}/hierarchy (space_hierarchy.yaml, client).
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Services } from '../../services/container.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { federationExtras } from '../../services/federation/extras.ts';
import { DEFAULT_LIMIT, DEFAULT_MAX_DEPTH, MAX_LIMIT } from '../../services/federation/hierarchy.ts';
import { MAX_PUBLIC_ROOMS_PAGE } from '../../services/directory.ts';
import { badJson, invalidParam } from '../errors.ts';
import { authOf, requireAuth } from '../middleware/auth.ts';
import { readJson } from '../middleware/json-body.ts';
import { signed } from './auth.ts';

function boolQuery(ctx: Koa.Context, name: string): boolean {
  const v = ctx.query[name];
  if (v === undefined) return false;
  if (v !== 'true' && v !== 'false') throw invalidParam(`${name} must be true or false`);
  return v === 'true';
}

function intQuery(ctx: Koa.Context, name: string, min: number): number | undefined {
  const v = ctx.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^-?\d{1,9}$/.test(v) || Number(v) < min) throw invalidParam(`${name} must be an integer of at least ${min}`);
  return Number(v);
}

/**
 * The directory page for a federation request. `room_types` is applied over the whole list
 * (then paginated with our own offsets) so pages are never short because of the filter.
 */
async function publicRooms(s: Services, o: { limit?: number; since?: string; term?: string; roomTypes?: Array<string | null> }): Promise<JsonObject> {
  // public_rooms.yaml (GET): limit "Defaults to 0 (no limit)".
  const limit = o.limit && o.limit > 0 ? Math.min(o.limit, MAX_PUBLIC_ROOMS_PAGE) : MAX_PUBLIC_ROOMS_PAGE;
  if (!o.roomTypes) return s.directory.publicRooms({ limit, since: o.since, term: o.term });
  const all: JsonObject[] = [];
  let since: string | undefined;
  for (let page = 0; page < 100; page++) {
    const r = await s.directory.publicRooms({ limit: MAX_PUBLIC_ROOMS_PAGE, since, term: o.term });
    all.push(...(r.chunk as JsonObject[]));
    if (typeof r.next_batch !== 'string') break;
    since = r.next_batch;
  }
  const wanted = new Set(o.roomTypes);
  const matching = all.filter((r) => wanted.has(typeof r.room_type === 'string' ? r.room_type : null));
  let offset = 0;
  if (o.since !== undefined) {
    const m = /^p(\d+)$/.exec(o.since);
    if (!m) throw invalidParam('Invalid since token');
    offset = Number(m[1]);
  }
  const out: JsonObject = { chunk: matching.slice(offset, offset + limit), total_room_count_estimate: matching.length };
  if (offset + limit < matching.length) out.next_batch = `p${offset + limit}`;
  if (offset > 0) out.prev_batch = `p${Math.max(0, offset - limit)}`;
  return out;
}

export function federationDirectoryRoutes(router: Router, s: Services): void {
  router.get(
    '/_matrix/federation/v1/publicRooms',
    signed(s, async (ctx) => {
      const since = ctx.query.since;
      if (since !== undefined && typeof since !== 'string') throw invalidParam('since must be a string');
      // Hearth has no application services: third-party networks list nothing extra.
      ctx.body = await publicRooms(s, { limit: intQuery(ctx, 'limit', 0), since });
    }),
  );

  router.post(
    '/_matrix/federation/v1/publicRooms',
    signed(s, async (ctx) => {
      const body = await readJson(ctx);
      if (body.limit !== undefined && (typeof body.limit !== 'number' || !Number.isInteger(body.limit))) throw badJson('limit must be an integer');
      if (body.since !== undefined && typeof body.since !== 'string') throw badJson('since must be a string');
      const filter = body.filter ?? {};
      if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw badJson('filter must be an object');
      const f = filter as Record<string, unknown>;
      const term = f.generic_search_term;
      if (term !== undefined && term !== null && typeof term !== 'string') throw badJson('generic_search_term must be a string');
      let roomTypes: Array<string | null> | undefined;
      if (f.room_types !== undefined && f.room_types !== null) {
        if (!Array.isArray(f.room_types) || f.room_types.some((t) => t !== null && typeof t !== 'string')) throw badJson('room_types must be a list of strings or null');
        roomTypes = f.room_types as Array<string | null>;
      }
      ctx.body = await publicRooms(s, { limit: body.limit as number | undefined, since: body.since as string | undefined, term: (term as string | null) ?? undefined, roomTypes });
    }),
  );

  router.get(
    '/_matrix/federation/v1/hierarchy/:roomId',
    signed(s, async (ctx, origin) => {
      ctx.body = await federationExtras(s).hierarchy.forServer(origin, ctx.params.roomId!, boolQuery(ctx, 'suggested_only'));
    }),
  );

  router.get('/_matrix/client/v1/rooms/:roomId/hierarchy', requireAuth(s), async (ctx) => {
    const roomId = ctx.params.roomId!;
    if (!roomId.startsWith('!')) throw invalidParam('Invalid room ID');
    const limit = Math.min(intQuery(ctx, 'limit', 1) ?? DEFAULT_LIMIT, MAX_LIMIT);
    const maxDepth = Math.min(intQuery(ctx, 'max_depth', 0) ?? DEFAULT_MAX_DEPTH, DEFAULT_MAX_DEPTH);
    const from = ctx.query.from;
    if (from !== undefined && typeof from !== 'string') throw invalidParam('from must be a string');
    ctx.body = await federationExtras(s).hierarchy.forUser(authOf(ctx).userId, roomId, {
      suggestedOnly: boolQuery(ctx, 'suggested_only'),
      limit,
      maxDepth,
      from,
    });
  });
}
