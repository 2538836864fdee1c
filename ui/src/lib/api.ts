// Typed calls to Hearth's JSON API. Errors carry the server's plain-language message.
import { adminSession, setupToken } from './session';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export async function request<T>(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<T> {
  let r: Response;
  try {
    r = await fetch(path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Hearth did not answer. Check that the box is on and connected, then try again.');
  }
  const text = await r.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = {};
  }
  if (!r.ok) {
    const msg = typeof json.error === 'string' ? json.error : `Hearth answered with an error (HTTP ${r.status}).`;
    if (r.status === 429) {
      const wait = Math.ceil(Number(json.retry_after_ms ?? 10000) / 1000);
      throw new ApiError(429, 'M_LIMIT_EXCEEDED', `Too many wrong attempts. Wait ${wait} seconds and try again.`, json);
    }
    throw new ApiError(r.status, String(json.errcode ?? 'UNKNOWN'), msg, json);
  }
  return json as T;
}

/** The credential each API takes: the setup token while the wizard runs, the admin's session after. */
export function authHeaders(auth: 'setup' | 'admin', token = setupToken()): Record<string, string> {
  if (auth === 'setup') return token ? { 'x-hearth-setup-token': token } : {};
  const s = adminSession();
  return s ? { authorization: `Bearer ${s.accessToken}` } : {};
}

export function setupApi<T>(method: string, path: string, body?: unknown, token = setupToken()): Promise<T> {
  return request<T>(method, `/_hearth/api/setup${path}`, body, authHeaders('setup', token));
}

export function adminApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  return request<T>(method, `/_hearth/api/admin${path}`, body, authHeaders('admin'));
}

export function publicApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  return request<T>(method, path, body, {});
}
