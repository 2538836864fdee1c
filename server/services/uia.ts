/**
 * User-interactive authentication (UIA). Spec: client-server-api "User-Interactive
 * Authentication API". An endpoint declares its flows; the first request without `auth` gets
 * 401 {flows, params, session}; each stage the client completes is recorded in the session;
 * once every stage of one flow is complete the endpoint runs. A failed stage answers 401 with
 * the same body plus errcode/error. Sessions live in memory (a restart only makes clients start
 * the flow again) and are bound to one endpoint and, when known, one user.
 *
 * Stages implemented: m.login.dummy, m.login.password, m.login.registration_token. Other areas
 * (cross-signing key upload) reuse `s.uia.check(...)` with their own flows.
 */
import { randomBytes } from 'node:crypto';
import { MatrixError, badJson, invalidParam } from '../http/errors.ts';
import { verifyPassword } from './passwords.ts';
import type { Services } from './container.ts';

export const STAGE_DUMMY = 'm.login.dummy';
export const STAGE_PASSWORD = 'm.login.password';
export const STAGE_REGISTRATION_TOKEN = 'm.login.registration_token';

export interface UiaFlow {
  stages: string[];
}

export interface UiaSpec {
  flows: UiaFlow[];
  params?: Record<string, unknown>;
  /** What the session is for, e.g. 'POST /account/password'; a session cannot be reused elsewhere. */
  action: string;
  /** The authenticated user, whose password m.login.password checks (null on /register). */
  userId: string | null;
  /** Request values to keep in the session (defined ones only), for requests that omit them later. */
  remember?: Record<string, unknown>;
}

export interface UiaSession {
  id: string;
  action: string;
  userId: string | null;
  completed: string[];
  /** The registration token reserved by m.login.registration_token, if any. */
  registrationToken: string | null;
  /** Endpoint-specific values remembered between requests (e.g. /register's username and password). */
  data: Record<string, unknown>;
  lastUsed: number;
}

/** 401 body of UIA: errcode/error appear only when a stage attempt failed (spec). */
export class UiaRequired extends MatrixError {
  constructor(
    readonly body: { flows: UiaFlow[]; params: Record<string, unknown>; session: string; completed?: string[] },
    failure?: { errcode: string; error: string },
  ) {
    super(401, failure?.errcode ?? 'M_UNAUTHORIZED', failure?.error ?? 'User-interactive authentication required');
    this.failure = failure ?? null;
  }
  private readonly failure: { errcode: string; error: string } | null;

  override toJSON(): Record<string, unknown> {
    return this.failure ? { ...this.failure, ...this.body } : { ...this.body };
  }
}

const SESSION_TTL_MS = 30 * 60_000;
const MAX_SESSIONS = 10_000;

export class UiaService {
  private sessions = new Map<string, UiaSession>();

  constructor(private readonly s: Services) {}

  /**
   * Runs the UIA protocol for one request. Returns the session when a flow is complete (the
   * caller performs the action, then calls `finish(session)`); otherwise throws the 401.
   * `auth` is the request body's `auth` value (may be undefined).
   */
  async check(auth: unknown, spec: UiaSpec): Promise<UiaSession> {
    this.expire();
    if (auth !== undefined && auth !== null && (typeof auth !== 'object' || Array.isArray(auth))) {
      throw badJson('auth must be an object');
    }
    const a = (auth ?? {}) as Record<string, unknown>;
    if (a.session !== undefined && typeof a.session !== 'string') throw badJson('auth.session must be a string');
    if (a.type !== undefined && typeof a.type !== 'string') throw badJson('auth.type must be a string');

    let session = typeof a.session === 'string' ? this.sessions.get(a.session) : undefined;
    if (typeof a.session === 'string' && !session) {
      // Spec leaves unknown sessions open; Synapse answers 400 "Unknown session ID" — clients restart.
      throw new MatrixError(400, 'M_UNKNOWN', 'Unknown or expired user-interactive auth session');
    }
    if (session && (session.action !== spec.action || session.userId !== spec.userId)) {
      throw new MatrixError(400, 'M_UNKNOWN', 'This auth session belongs to a different request');
    }
    if (!session) session = this.create(spec);
    session.lastUsed = this.s.now();
    for (const [k, v] of Object.entries(spec.remember ?? {})) if (v !== undefined) session.data[k] = v;

    const challenge = (failure?: { errcode: string; error: string }) =>
      new UiaRequired(
        {
          flows: spec.flows,
          params: spec.params ?? {},
          session: session.id,
          ...(session.completed.length ? { completed: [...session.completed] } : {}),
        },
        failure,
      );

    // Spec note: a UIA endpoint never succeeds without auth, even if only m.login.dummy is offered.
    if (typeof a.type === 'string') {
      const offered = spec.flows.some((f) => f.stages.includes(a.type as string));
      if (!offered) throw challenge({ errcode: 'M_UNRECOGNIZED', error: `Auth type ${a.type} is not offered here` });
      if (!session.completed.includes(a.type)) {
        const failure = await this.attempt(a.type, a, session, spec);
        if (failure) throw challenge(failure);
        session.completed.push(a.type);
      }
    } else if (auth === undefined || auth === null || Object.keys(a).length === 0) {
      throw challenge();
    }
    const done = spec.flows.some((f) => f.stages.every((st) => session.completed.includes(st)));
    if (!done) throw challenge();
    return session;
  }

  /** Ends a session after the protected action succeeded. */
  finish(session: UiaSession): void {
    this.sessions.delete(session.id);
  }

  /** Looks up an active session without changing it (for endpoints that remember data in it). */
  peek(id: unknown): UiaSession | undefined {
    return typeof id === 'string' ? this.sessions.get(id) : undefined;
  }

  private create(spec: UiaSpec): UiaSession {
    if (this.sessions.size >= MAX_SESSIONS) this.dropOldest();
    const session: UiaSession = {
      id: randomBytes(18).toString('base64url'),
      action: spec.action,
      userId: spec.userId,
      completed: [],
      registrationToken: null,
      data: {},
      lastUsed: this.s.now(),
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** Tries one stage; returns the failure to report, or undefined when the stage is complete. */
  private async attempt(
    type: string,
    a: Record<string, unknown>,
    session: UiaSession,
    spec: UiaSpec,
  ): Promise<{ errcode: string; error: string } | undefined> {
    switch (type) {
      case STAGE_DUMMY:
        return undefined;
      case STAGE_PASSWORD:
        return this.checkPassword(a, spec);
      case STAGE_REGISTRATION_TOKEN: {
        if (typeof a.token !== 'string') throw invalidParam('auth.token must be a string');
        const ok = await this.s.registration.reserveToken(a.token);
        if (!ok) return { errcode: 'M_FORBIDDEN', error: 'Invalid registration token' };
        session.registrationToken = a.token;
        return undefined;
      }
      default:
        return { errcode: 'M_UNRECOGNIZED', error: `Unsupported auth type ${type}` };
    }
  }

  private async checkPassword(a: Record<string, unknown>, spec: UiaSpec): Promise<{ errcode: string; error: string } | undefined> {
    if (!spec.userId) return { errcode: 'M_FORBIDDEN', error: 'Password auth needs a logged-in user' };
    if (typeof a.password !== 'string') throw invalidParam('auth.password must be a string');
    const claimed = userFromIdentifier(a, this.s.config.server_name ?? '');
    if (claimed === 'invalid') throw invalidParam('auth.identifier is not a valid user identifier');
    if (claimed !== null && claimed !== spec.userId) {
      return { errcode: 'M_FORBIDDEN', error: 'Identifier does not match the logged-in user' };
    }
    const wait = this.s.rateLimiter.take('login_failed', spec.userId, 1, false);
    if (wait > 0) throw new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many failed attempts', { retry_after_ms: wait });
    const user = await this.s.users.getByUserId(spec.userId);
    if (user && !user.deactivated && (await verifyPassword(a.password, user.password_hash))) return undefined;
    this.s.rateLimiter.take('login_failed', spec.userId);
    return { errcode: 'M_FORBIDDEN', error: 'Invalid password' };
  }

  private expire(): void {
    const cutoff = this.s.now() - SESSION_TTL_MS;
    for (const [id, sess] of this.sessions) {
      if (sess.lastUsed >= cutoff) continue;
      this.sessions.delete(id);
      this.releaseToken(sess);
    }
  }

  private dropOldest(): void {
    const first = this.sessions.entries().next().value;
    if (!first) return;
    this.sessions.delete(first[0]);
    this.releaseToken(first[1]);
  }

  private releaseToken(sess: UiaSession): void {
    if (!sess.registrationToken) return;
    this.s.registration.releaseToken(sess.registrationToken).catch((err) => this.s.log.warn({ err }, 'releasing registration token failed'));
  }
}

/**
 * The user ID named by an auth dict's `identifier` (m.id.user) or deprecated `user`, or null if
 * none is given; 'invalid' for malformed identifiers. A bare localpart is qualified with the
 * server name; localparts are matched case-insensitively (Hearth only registers lowercase).
 */
export function userFromIdentifier(a: Record<string, unknown>, serverName: string): string | null | 'invalid' {
  let raw: unknown;
  if (a.identifier !== undefined) {
    const id = a.identifier as Record<string, unknown>;
    if (typeof id !== 'object' || id === null || Array.isArray(id)) return 'invalid';
    if (id.type !== 'm.id.user') return 'invalid';
    raw = id.user;
  } else if (a.user !== undefined) {
    raw = a.user;
  } else {
    return null;
  }
  if (typeof raw !== 'string' || raw.length === 0) return 'invalid';
  if (raw.startsWith('@')) {
    const colon = raw.indexOf(':');
    if (colon < 0) return 'invalid';
    return `@${raw.slice(1, colon).toLowerCase()}${raw.slice(colon)}`;
  }
  return `@${raw.toLowerCase()}:${serverName}`;
}
