/**
 * The setup token: proof that whoever opens the wizard can read the box's console or data
 * directory. Generated at the first start, written to DATA_DIR/setup-token (mode 0600, readable
 * only by the service user), printed in the log, removed when setup finishes.
 *
 * 16 characters from a 32-letter alphabet without look-alikes (no 0/O, 1/l/I) = 80 bits: with
 * the rate limit below, guessing is hopeless. Comparison is constant-time over SHA-256 digests,
 * so neither the content nor the length leaks through timing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'; // 31 letters: no i, l, o, 0, 1
const GROUPS = 4;
const GROUP_LEN = 4;

export function setupTokenPath(dataDir: string): string {
  return join(dataDir, 'setup-token');
}

export function generateSetupToken(): string {
  const bytes = randomBytes(GROUPS * GROUP_LEN * 2);
  const chars: string[] = [];
  // Rejection sampling keeps every letter equally likely (256 is not a multiple of 31).
  for (const b of bytes) {
    if (chars.length === GROUPS * GROUP_LEN) break;
    if (b < 248) chars.push(ALPHABET[b % ALPHABET.length]!);
  }
  while (chars.length < GROUPS * GROUP_LEN) chars.push(ALPHABET[randomBytes(1)[0]! % ALPHABET.length]!);
  const groups: string[] = [];
  for (let i = 0; i < GROUPS; i++) groups.push(chars.slice(i * GROUP_LEN, (i + 1) * GROUP_LEN).join(''));
  return groups.join('-');
}

/** Reads the token file, or creates it (mode 0600) when missing. */
export function ensureSetupToken(dataDir: string): { token: string; created: boolean } {
  const path = setupTokenPath(dataDir);
  if (existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length >= 8) {
      chmodSync(path, 0o600);
      return { token, created: false };
    }
  }
  const token = generateSetupToken();
  writeFileSync(path, token + '\n', { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its old mode on write
  return { token, created: true };
}

export function removeSetupToken(dataDir: string): void {
  rmSync(setupTokenPath(dataDir), { force: true });
}

/** People type tokens: ignore case, spaces and missing dashes. */
function normalise(token: string): string {
  return token.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(normalise(given)).digest();
  const b = createHash('sha256').update(normalise(expected)).digest();
  return timingSafeEqual(a, b);
}

/**
 * Failed guesses per client address: 10 in a burst, then one per 6 seconds. Successful checks
 * are never limited (the wizard sends the token with every request).
 */
export class TokenGuard {
  private readonly failures = new Map<string, { tokens: number; ts: number }>();
  constructor(
    private readonly now: () => number,
    private readonly burst = 10,
    private readonly refillMs = 6000,
  ) {}

  /** Milliseconds until `ip` may try again; 0 if it may try now. */
  retryAfter(ip: string): number {
    const b = this.bucket(ip);
    return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) * this.refillMs);
  }

  recordFailure(ip: string): void {
    const b = this.bucket(ip);
    b.tokens = Math.max(0, b.tokens - 1);
    if (this.failures.size > 10_000) this.failures.clear();
    this.failures.set(ip, b);
  }

  private bucket(ip: string) {
    const now = this.now();
    const b = this.failures.get(ip) ?? { tokens: this.burst, ts: now };
    b.tokens = Math.min(this.burst, b.tokens + (now - b.ts) / this.refillMs);
    b.ts = now;
    return b;
  }
}
