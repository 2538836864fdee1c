/**
 * Logging in and out, password changes and deactivation. Spec: client-server-api "Login",
 * "Logout", "Account management" (password management, deactivation).
 */
import { MatrixError, forbidden } from '../http/errors.ts';
import { markDeactivatedTx, setPasswordHashTx } from '../storage/users-store.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { Services } from './container.ts';
import type { Session } from './devices.ts';

/** Hooks run after an account was deactivated (and committed), e.g. leaving every room. */
export interface AccountHooks {
  /** `erase`: the user asked for their content to be forgotten (spec: POST /account/deactivate). */
  onDeactivate: Array<(userId: string, opts: { erase: boolean }) => Promise<void>>;
}

export function newAccountHooks(): AccountHooks {
  return { onDeactivate: [] };
}

export interface LoginDevice {
  deviceId: string | null;
  displayName: string | null;
  refreshable: boolean;
}

export class AuthService {
  constructor(private readonly s: Services) {}

  /**
   * m.login.password: checks the password and starts a session. Wrong user or password → 403
   * M_FORBIDDEN (the same answer for both, so logins do not reveal which accounts exist);
   * deactivated → 403 M_USER_DEACTIVATED. Failed attempts are rate-limited per account.
   */
  async loginWithPassword(userId: string, password: string, device: LoginDevice): Promise<Session> {
    const wait = this.s.rateLimiter.take('login_failed', userId, 1, false);
    if (wait > 0) throw new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many failed login attempts', { retry_after_ms: wait });
    const user = await this.s.users.getByUserId(userId);
    if (user?.deactivated) throw new MatrixError(403, 'M_USER_DEACTIVATED', 'This account has been deactivated');
    const ok = user ? await verifyPassword(password, user.password_hash) : await verifyPassword(password, await dummyHash());
    if (!user || !ok) {
      this.s.rateLimiter.take('login_failed', userId);
      throw forbidden('Invalid username or password');
    }
    return this.startSession(userId, device);
  }

  /** m.login.token: a single-use token from POST /login/get_token. */
  async loginWithToken(token: string, device: LoginDevice): Promise<Session> {
    const userId = await this.s.db.write((tx) => this.s.tokens.consumeLoginToken(tx, token));
    const user = userId ? await this.s.users.getByUserId(userId) : undefined;
    if (!user || user.deactivated) throw forbidden('Invalid or expired login token');
    return this.startSession(user.user_id, device);
  }

  startSession(userId: string, device: LoginDevice): Promise<Session> {
    return this.s.db.write((tx) => this.s.devices.startSession(tx, userId, device));
  }

  /** POST /logout: the token's device goes away with it (spec: device and its keys are deleted). */
  async logout(userId: string, deviceId: string): Promise<void> {
    await this.s.devices.delete(userId, [deviceId]);
  }

  /** POST /logout/all: every device and token of the user. */
  async logoutAll(userId: string): Promise<void> {
    await this.s.db.write((tx) => this.s.devices.deleteAllInTx(tx, userId, null));
  }

  /**
   * POST /account/password: sets the new password and, unless logoutDevices is false, deletes
   * every other device (spec: "all access tokens for the user except the one used for this
   * request" are revoked; devices other than the requesting one are logged out).
   */
  async changePassword(userId: string, newPassword: string, logoutDevices: boolean, keepDeviceId: string | null): Promise<void> {
    const hash = await hashPassword(newPassword);
    await this.s.db.write(async (tx) => {
      await setPasswordHashTx(tx, userId, hash);
      if (logoutDevices) await this.s.devices.deleteAllInTx(tx, userId, keepDeviceId);
    });
  }

  /** POST /account/deactivate: wipes the password, deletes devices and tokens, then runs hooks. */
  async deactivate(userId: string, erase = false): Promise<void> {
    await this.s.db.write(async (tx) => {
      await markDeactivatedTx(tx, userId);
      await this.s.devices.deleteAllInTx(tx, userId, null);
    });
    this.s.tokens.evictUser(userId);
    await this.s.pushRules.deleteAll(userId);
    for (const hook of this.s.accountHooks.onDeactivate) {
      try {
        await hook(userId, { erase });
      } catch (err) {
        this.s.log.error({ err, userId }, 'deactivation hook failed');
      }
    }
  }
}

/**
 * Verifying against a fixed hash when the user does not exist keeps the response time the same
 * as for a wrong password (no account enumeration by timing). A valid scrypt hash of a random string.
 */
let dummy: Promise<string> | null = null;
function dummyHash(): Promise<string> {
  return (dummy ??= hashPassword(Math.random().toString(36)));
}
