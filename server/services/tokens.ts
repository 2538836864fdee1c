/**
 * Access, refresh and login tokens. Spec: client-server-api "Client authentication" (using
 * access tokens, relationship between access tokens and devices, refreshing access tokens,
 * soft logout) and "Login" (m.login.token).
 *
 * Tokens are random (192 bits), handed out once and stored only as SHA-256 hashes. Validation
 * runs on every authenticated request, so results are cached in memory for a short time; every
 * path that deletes tokens in this process evicts them from the cache after commit.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { WriteTx } from '../storage/db.ts';
import { TokensStore } from '../storage/tokens-store.ts';
import type { Services } from './container.ts';

export interface TokenOwner {
  userId: string;
  deviceId: string;
  isAdmin: boolean;
  tokenHash: string;
}

export type ValidationResult = { ok: true; owner: TokenOwner } | { ok: false; reason: 'unknown' | 'expired' };

export interface IssuedTokens {
  accessToken: string;
  refreshToken?: string;
  expiresInMs?: number;
}

interface CacheEntry {
  owner: TokenOwner;
  expiresTs: number | null;
  prevRefreshHash: string | null;
  cachedAt: number;
}

/** How long a cached validation may be reused (bounds staleness of is_admin changed by the CLI). */
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 20_000;
/** How long an expired token is remembered to answer soft_logout rather than a hard logout. */
const EXPIRED_KEEP_MS = 7 * 24 * 3600_000;
const LOGIN_TOKEN_TTL_MS = 120_000;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

export class TokenService {
  readonly store: TokensStore;
  private cache = new Map<string, CacheEntry>();
  /** token → hashToken(token) for recently used tokens: SHA-256 was a tenth of a whoami's auth. */
  private hashes = new Map<string, string>();
  private lastPrune = 0;

  constructor(private readonly s: Services) {
    this.store = new TokensStore(s.db);
  }

  /** Lifetime of refreshable access tokens (config access_token_lifetime_ms). */
  get lifetimeMs(): number {
    return this.s.config.access_token_lifetime_ms;
  }

  /**
   * Issues an access token (and a refresh token when the client supports them) for an existing
   * device, inside the caller's write transaction. Spec: a refresh token is only issued if the
   * client said `refresh_token: true`; only then does the access token expire.
   */
  async issue(tx: WriteTx, userId: string, deviceId: string, refreshable: boolean, prevRefreshHash: string | null = null): Promise<IssuedTokens> {
    const now = this.s.now();
    const accessToken = newToken('hth');
    if (!refreshable) {
      await this.store.insertAccess(tx, { hash: hashToken(accessToken), userId, deviceId, now, expiresTs: null, refreshHash: null, prevRefreshHash: null });
      return { accessToken };
    }
    const refreshToken = newToken('hthr');
    const refreshHash = hashToken(refreshToken);
    await this.store.insertRefresh(tx, { hash: refreshHash, userId, deviceId, now, prevHash: prevRefreshHash });
    await this.store.insertAccess(tx, {
      hash: hashToken(accessToken),
      userId,
      deviceId,
      now,
      expiresTs: now + this.lifetimeMs,
      refreshHash,
      prevRefreshHash,
    });
    return { accessToken, refreshToken, expiresInMs: this.lifetimeMs };
  }

  async validate(token: string): Promise<ValidationResult> {
    const memo = this.hashes.get(token);
    const hash = memo ?? hashToken(token);
    const now = this.s.now();
    let entry = this.cache.get(hash);
    if (entry && now - entry.cachedAt > CACHE_TTL_MS) {
      this.cache.delete(hash);
      entry = undefined;
    }
    if (!entry) {
      const row = await this.store.getAccess(hash);
      if (!row || row.deactivated) return { ok: false, reason: 'unknown' };
      entry = {
        owner: { userId: row.user_id, deviceId: row.device_id, isAdmin: row.is_admin === 1, tokenHash: hash },
        expiresTs: row.expires_ts,
        prevRefreshHash: row.prev_refresh_hash,
        cachedAt: now,
      };
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(hash, entry);
    }
    if (entry.expiresTs !== null && entry.expiresTs <= now) return { ok: false, reason: 'expired' };
    if (entry.prevRefreshHash) {
      // Spec: the old refresh token stays valid until the new access token is used.
      const prev = entry.prevRefreshHash;
      entry.prevRefreshHash = null;
      await this.s.db.write((tx) => this.store.consumePrevRefresh(tx, hash, prev));
    }
    if (memo === undefined) {
      // Hashing is pure, so the memo needs no invalidation, only a bound; only tokens that
      // worked are remembered (guesses would just churn it).
      if (this.hashes.size >= CACHE_MAX) this.hashes.clear();
      this.hashes.set(token, hash);
    }
    this.maybePrune(now);
    return { ok: true, owner: entry.owner };
  }

  /**
   * POST /refresh: swaps a refresh token for a new access + refresh token pair. Returns null if
   * the refresh token is unknown or already superseded and used.
   */
  refresh(refreshToken: string): Promise<(IssuedTokens & { userId: string; deviceId: string }) | null> {
    const hash = hashToken(refreshToken);
    return this.s.db.write(async (tx) => {
      const row = await this.store.getRefresh(tx, hash);
      if (!row) return null;
      const deleted = await this.store.deleteAccessPairedWith(tx, hash);
      // Using the new refresh token invalidates the one it replaced.
      if (row.prev_hash) await this.store.deleteRefresh(tx, row.prev_hash);
      const issued = await this.issue(tx, row.user_id, row.device_id, true, hash);
      tx.afterCommit(() => this.evict(deleted));
      return { ...issued, userId: row.user_id, deviceId: row.device_id };
    });
  }

  /** Deletes one access token (POST /logout keeps the device for the deletion done by the caller). */
  async revokeDeviceTokens(tx: WriteTx, userId: string, deviceId: string): Promise<void> {
    const hashes = await this.store.deleteForDevice(tx, userId, deviceId);
    tx.afterCommit(() => this.evict(hashes));
  }

  /** Call inside a transaction before devices are deleted (their tokens cascade with them). */
  async evictDevicesAfterCommit(tx: WriteTx, userId: string, deviceIds: string[] | null): Promise<void> {
    const hashes = await this.store.accessHashesForDevices(tx, userId, deviceIds);
    tx.afterCommit(() => this.evict(hashes));
  }

  /** Drops cached validations of a user (e.g. after deactivation or an admin flag change). */
  evictUser(userId: string): void {
    for (const [hash, e] of this.cache) if (e.owner.userId === userId) this.cache.delete(hash);
  }

  evict(hashes: string[]): void {
    for (const h of hashes) this.cache.delete(h);
  }

  /** m.login.token: a short-lived single-use token (POST /login/get_token). */
  async createLoginToken(userId: string): Promise<{ token: string; expiresInMs: number }> {
    const token = newToken('hthl');
    const expires = this.s.now() + LOGIN_TOKEN_TTL_MS;
    await this.s.db.write((tx) => this.store.insertLogin(tx, hashToken(token), userId, expires));
    return { token, expiresInMs: LOGIN_TOKEN_TTL_MS };
  }

  consumeLoginToken(tx: WriteTx, token: string): Promise<string | null> {
    return this.store.consumeLogin(tx, hashToken(token), this.s.now());
  }

  private maybePrune(now: number): void {
    if (now - this.lastPrune < 3600_000) return;
    this.lastPrune = now;
    this.store.pruneExpired(now - EXPIRED_KEEP_MS).then(
      (hashes) => this.evict(hashes),
      (err) => this.s.log.warn({ err }, 'pruning expired tokens failed'),
    );
  }
}
