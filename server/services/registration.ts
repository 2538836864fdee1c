/**
 * Account registration and admin-managed registration tokens. Spec: client-server-api
 * "Account registration" and "Token-authenticated registration" (m.login.registration_token).
 *
 * A home appliance is closed by default: registering needs a token the admin created with
 * `hearth token create` (or the wizard, through `createRegistrationToken`). `open_registration`
 * (tests, benchmarks) allows m.login.dummy instead.
 */
import { randomInt } from 'node:crypto';
import { MatrixError } from '../http/errors.ts';
import type { Database } from '../storage/db.ts';
import { RegistrationTokensStore, type RegistrationTokenRow } from '../storage/registration-tokens-store.ts';
import { UserExistsError } from '../storage/users-store.ts';
import { isValidLocalpart } from './localpart.ts';
import { hashPassword } from './passwords.ts';
import type { Services } from './container.ts';
import type { Session } from './devices.ts';

/** Spec: registration tokens use the opaque identifier grammar, at most 64 characters. */
export const REGISTRATION_TOKEN_RE = /^[A-Za-z0-9._~-]{1,64}$/;
const TOKEN_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

export function generateRegistrationToken(length = 16): string {
  let t = '';
  for (let i = 0; i < length; i++) t += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
  return t;
}

export interface RegistrationTokenInfo {
  token: string;
  usesAllowed: number | null;
  pending: number;
  completed: number;
  expiryTs: number | null;
  createdTs: number;
  /** Usable right now (not expired, uses left). */
  valid: boolean;
}

export interface RegisterRequest {
  localpart: string | null;
  password: string;
  deviceId: string | null;
  displayName: string | null;
  inhibitLogin: boolean;
  refreshable: boolean;
  /** The token reserved by the UIA session, which becomes a completed use. */
  registrationToken: string | null;
}

export class RegistrationService {
  readonly tokens: RegistrationTokensStore;

  constructor(private readonly s: Services) {
    this.tokens = new RegistrationTokensStore(s.db);
  }

  get serverName(): string {
    const name = this.s.config.server_name;
    if (!name) throw new MatrixError(403, 'M_FORBIDDEN', 'This server is not set up yet');
    return name;
  }

  /** Creates a registration token (random unless given). Throws if `token` exists or is malformed. */
  createRegistrationToken(o: NewRegistrationToken = {}): Promise<RegistrationTokenInfo> {
    return createRegistrationToken(this.s.db, o, this.s.now());
  }

  async listRegistrationTokens(): Promise<RegistrationTokenInfo[]> {
    const now = this.s.now();
    return (await this.tokens.list()).map((r) => describeToken(r, now));
  }

  deleteRegistrationToken(token: string): Promise<boolean> {
    return this.s.db.write((tx) => this.tokens.delete(tx, token));
  }

  /** GET /register/m.login.registration_token/validity. */
  async isTokenValid(token: string): Promise<boolean> {
    const row = await this.tokens.get(token);
    return row ? describeToken(row, this.s.now()).valid : false;
  }

  reserveToken(token: string): Promise<boolean> {
    return this.s.db.write((tx) => this.tokens.reserve(tx, token, this.s.now()));
  }

  releaseToken(token: string): Promise<void> {
    return this.s.db.write((tx) => this.tokens.release(tx, token));
  }

  /** Spec: /register/available — M_INVALID_USERNAME or M_USER_IN_USE, else true. */
  async checkUsername(localpart: string): Promise<void> {
    if (!isValidLocalpart(localpart) || `@${localpart}:${this.serverName}`.length > 255) {
      throw new MatrixError(400, 'M_INVALID_USERNAME', 'User ID may only contain a-z, 0-9, and . _ = - /');
    }
    if (await this.s.users.getByLocalpart(localpart)) throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken');
  }

  /** Creates the account (and, unless inhibit_login, its first device and tokens) in one transaction. */
  async register(r: RegisterRequest): Promise<{ userId: string; session: Session | null }> {
    const localpart = r.localpart ?? (await this.freeLocalpart());
    await this.checkUsername(localpart);
    const userId = `@${localpart}:${this.serverName}`;
    const passwordHash = await hashPassword(r.password);
    try {
      return await this.s.db.write(async (tx) => {
        await this.s.users.insert(tx, { userId, localpart, passwordHash, admin: false, now: this.s.now() });
        if (r.registrationToken) await this.tokens.complete(tx, r.registrationToken);
        const session = r.inhibitLogin
          ? null
          : await this.s.devices.startSession(tx, userId, { deviceId: r.deviceId, displayName: r.displayName, refreshable: r.refreshable });
        return { userId, session };
      });
    } catch (e) {
      if (e instanceof UserExistsError) throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken');
      throw e;
    }
  }

  private async freeLocalpart(): Promise<string> {
    for (;;) {
      const candidate = `u${generateRegistrationToken(10).toLowerCase()}`;
      if (!(await this.s.users.getByLocalpart(candidate))) return candidate;
    }
  }

}

export interface NewRegistrationToken {
  token?: string;
  /** null or absent: unlimited. */
  usesAllowed?: number | null;
  /** ms since the epoch; null or absent: never expires. */
  expiryTs?: number | null;
}

/**
 * Creates a registration token in `db` (used by the server, `hearth token create` and the setup
 * wizard). Throws a plain Error with a readable message for a malformed or existing token.
 */
export async function createRegistrationToken(db: Database, o: NewRegistrationToken, now: number): Promise<RegistrationTokenInfo> {
  const token = o.token ?? generateRegistrationToken();
  if (!REGISTRATION_TOKEN_RE.test(token)) throw new Error('a registration token is 1-64 characters of A-Z a-z 0-9 . _ ~ -');
  const usesAllowed = o.usesAllowed ?? null;
  if (usesAllowed !== null && (!Number.isInteger(usesAllowed) || usesAllowed < 0)) throw new Error('uses must be a non-negative integer');
  const expiryTs = o.expiryTs ?? null;
  const store = new RegistrationTokensStore(db);
  const inserted = await db.write((tx) => store.insert(tx, { token, usesAllowed, expiryTs, now }));
  if (!inserted) throw new Error(`registration token ${token} already exists`);
  return describeToken({ token, uses_allowed: usesAllowed, pending: 0, completed: 0, expiry_ts: expiryTs, created_ts: now }, now);
}

export function describeToken(r: RegistrationTokenRow, now: number): RegistrationTokenInfo {
  const valid = (r.expiry_ts === null || r.expiry_ts > now) && (r.uses_allowed === null || r.pending + r.completed < r.uses_allowed);
  return {
    token: r.token,
    usesAllowed: r.uses_allowed,
    pending: r.pending,
    completed: r.completed,
    expiryTs: r.expiry_ts,
    createdTs: r.created_ts,
    valid,
  };
}
