/**
 * Small helpers for the accounts endpoints: path prefixes and typed body fields. A field of the
 * wrong JSON type is 400 M_BAD_JSON (the body is well-formed JSON but not what the endpoint
 * accepts); a required field that is absent is 400 M_MISSING_PARAM.
 */
import { badJson, missingParam } from '../errors.ts';
import type { Services } from '../../services/container.ts';
import type { Session } from '../../services/devices.ts';

/** Spec leaves password rules to the server; scrypt cost is independent of length but bound it anyway. */
export const MAX_PASSWORD_LENGTH = 512;

/** `/_matrix/client/v3{path}` and its `r0` alias (older clients still call r0). */
export function v3(path: string): string[] {
  return [`/_matrix/client/v3${path}`, `/_matrix/client/r0${path}`];
}

export function v1(path: string): string[] {
  return [`/_matrix/client/v1${path}`];
}

type Body = Record<string, unknown>;

export function optString(body: Body, key: string, maxLength = 65536): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badJson(`${key} must be a string`);
  if (v.length > maxLength) throw badJson(`${key} is too long`);
  return v;
}

export function reqString(body: Body, key: string, maxLength = 65536): string {
  const v = optString(body, key, maxLength);
  if (v === undefined) throw missingParam(`Missing ${key}`);
  return v;
}

export function optBool(body: Body, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badJson(`${key} must be a boolean`);
  return v;
}

export function optStringArray(body: Body, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badJson(`${key} must be an array of strings`);
  return v as string[];
}

/** A query parameter given once as a string (repeated parameters are rejected). */
export function queryString(q: Record<string, string | string[] | undefined>, key: string): string | undefined {
  const v = q[key];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw badJson(`${key} given more than once`);
  return v;
}

/** The JSON a successful /login or /register returns. */
export function sessionResponse(s: Services, session: Session): Record<string, unknown> {
  const out: Record<string, unknown> = {
    user_id: session.userId,
    access_token: session.accessToken,
    device_id: session.deviceId,
    // Deprecated but still read by older clients.
    home_server: s.config.server_name,
  };
  if (session.refreshToken) {
    out.refresh_token = session.refreshToken;
    out.expires_in_ms = session.expiresInMs;
  }
  return out;
}
