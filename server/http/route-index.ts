/**
 * Faster dispatch over a @koa/router Router: a request is only tested against the routes whose
 * leading literal path segments agree with its own. @koa/router tests every route's regexp in
 * registration order; with ~270 client-server routes that walk cost more than many handlers.
 *
 * The result is exactly what the whole router would do: a route whose pattern starts with the
 * literal segments `/_matrix/client/v3/rooms` can only match a path with those segments (the
 * router is case-insensitive, so segments compare lowercased), so leaving it out changes
 * nothing; the remaining routes keep their order. The candidate lists are cached per distinct
 * literal prefix (bounded by the literals the routes contain, not by what clients send).
 */
import Router, { type Layer } from '@koa/router';
import type Koa from 'koa';

/** How many leading segments ('' before the first slash included) take part in the index. */
const DEPTH = 6;
/** Characters with a meaning in path-to-regexp patterns: a segment with any of them is not literal. */
const SPECIAL = /[{}()[\]+?!:*\\]/;
const MISSING = '\u0000';
const OTHER = '\u0001';
const MAX_CACHED = 1024;

/** The pattern's literal leading segments, lowercased (stops at the first non-literal one). */
function literalPrefix(layer: Layer): string[] {
  const path: unknown = layer.path;
  if (typeof path !== 'string' || layer.methods.length === 0) return [];
  const out: string[] = [];
  for (const seg of path.split('/').slice(0, DEPTH)) {
    if (SPECIAL.test(seg)) break;
    out.push(seg.toLowerCase());
  }
  return out;
}

export class RouteIndex {
  private readonly prefixes: string[][];
  /** Per position, the literals some route has there. */
  private readonly literals: Set<string>[] = [];
  private readonly cache = new Map<string, { router: Router; dispatch: Koa.Middleware }>();

  constructor(private readonly router: Router) {
    this.prefixes = router.stack.map(literalPrefix);
    for (let i = 0; i < DEPTH; i++) this.literals.push(new Set());
    for (const p of this.prefixes) p.forEach((seg, i) => this.literals[i]!.add(seg));
  }

  /** The routes a request for `path` could match, as a router of their own (same options, same order). */
  routerFor(path: string): { router: Router; dispatch: Koa.Middleware } {
    const segs = path.toLowerCase().split('/', DEPTH);
    const keyParts: string[] = [];
    for (let i = 0; i < DEPTH; i++) {
      const seg = segs[i];
      keyParts.push(seg === undefined ? MISSING : this.literals[i]!.has(seg) ? seg : OTHER);
    }
    const key = keyParts.join('/');
    const hit = this.cache.get(key);
    if (hit) return hit;
    const router = new Router(this.router.opts);
    router.stack = this.router.stack.filter((_layer, n) => {
      const p = this.prefixes[n]!;
      for (let i = 0; i < p.length; i++) if (keyParts[i] !== p[i]) return false;
      return true;
    });
    const entry = { router, dispatch: router.routes() as unknown as Koa.Middleware };
    if (this.cache.size < MAX_CACHED) this.cache.set(key, entry);
    return entry;
  }

  /** Dispatches like the whole router's `routes()` middleware would. */
  dispatch(ctx: Koa.Context, next: Koa.Next): Promise<unknown> {
    return this.routerFor(ctx.path).dispatch(ctx, next) as Promise<unknown>;
  }

  /** Whether some route matches `path` with any method (a known path with a wrong method is 405). */
  knowsPath(path: string): boolean {
    return this.routerFor(path).router.match(path, 'GET').path.length > 0;
  }
}
