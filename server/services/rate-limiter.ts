/**
 * Token-bucket rate limiting per user or per client IP. Spec: client-server-api "Rate limiting":
 * a limited request gets 429 M_LIMIT_EXCEEDED with retry_after_ms. Buckets live in memory (one
 * process); limits reset on restart, which is fine for abuse protection.
 */

export interface BucketRule {
  /** Requests allowed in a burst. */
  burst: number;
  /** Sustained requests per second (refill rate). */
  perSecond: number;
}

/**
 * Defaults sized for a home server: generous for people and their clients (an Element start-up
 * sends dozens of requests at once), tight enough that a script cannot guess passwords or flood.
 */
export const DEFAULT_RULES = {
  /** POST /login per client IP. */
  login: { burst: 30, perSecond: 0.5 },
  /** Failed password checks per account (login and user-interactive auth). */
  login_failed: { burst: 5, perSecond: 0.1 },
  /** POST /register per client IP. */
  register: { burst: 50, perSecond: 0.5 },
  /** GET /register/m.login.registration_token/validity per client IP (spec: rate-limit against brute force). */
  token_validity: { burst: 10, perSecond: 0.2 },
  /** Every other authenticated request, per user. */
  request: { burst: 1000, perSecond: 100 },
} satisfies Record<string, BucketRule>;

interface Bucket {
  tokens: number;
  ts: number;
}

export class RateLimiter {
  private readonly rules = new Map<string, BucketRule>(Object.entries(DEFAULT_RULES));
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly enabled: boolean,
    private readonly now: () => number,
  ) {}

  /** Adds or replaces a named bucket rule (other areas add theirs, e.g. message sending). */
  define(name: string, rule: BucketRule): void {
    this.rules.set(name, rule);
  }

  /**
   * Takes `cost` from `name`'s bucket for `key`. Returns 0 when allowed, otherwise how many
   * milliseconds until the request would be allowed (nothing is taken then). With
   * `consume: false` it only checks that `cost` is available.
   */
  take(name: string, key: string, cost = 1, consume = true): number {
    if (!this.enabled) return 0;
    const rule = this.rules.get(name);
    if (!rule) throw new Error(`unknown rate-limit bucket ${name}`);
    const now = this.now();
    const id = `${name}\u0000${key}`;
    let b = this.buckets.get(id);
    if (!b) {
      if (this.buckets.size > 100_000) this.prune(now);
      b = { tokens: rule.burst, ts: now };
      this.buckets.set(id, b);
    } else {
      // A clock that went backwards refills nothing (and never drains).
      const elapsed = Math.max(0, now - b.ts);
      b.tokens = Math.min(rule.burst, b.tokens + (elapsed / 1000) * rule.perSecond);
      b.ts = Math.max(b.ts, now);
    }
    if (b.tokens >= cost) {
      if (consume) b.tokens -= cost;
      return 0;
    }
    return Math.ceil(((cost - b.tokens) / rule.perSecond) * 1000);
  }

  /** Forgets buckets that have refilled completely (they are equivalent to new ones). */
  private prune(now: number): void {
    for (const [id, b] of this.buckets) {
      const rule = this.rules.get(id.slice(0, id.indexOf('\u0000')));
      if (!rule || b.tokens + ((now - b.ts) / 1000) * rule.perSecond >= rule.burst) this.buckets.delete(id);
    }
  }
}
