/**
 * Client-side helpers for HTTP tests: `registerUser(baseUrl)` makes an account on a server
 * started with `startTestServer({ open_registration: true })` (or with a registration token),
 * and `api(baseUrl, token)` is a tiny fetch wrapper returning `{status, body}`. `registerUsers` and
 * `createRoom` are the set-up most room and sync tests start with.
 */

export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
  localpart: string;
}

export interface ApiResponse<T = any> {
  status: number;
  // Tests inspect arbitrary JSON shapes; `any` keeps assertions short.
  body: T;
  headers: Headers;
}

export interface Api {
  get<T = any>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<ApiResponse<T>>;
  post<T = any>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  put<T = any>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  delete<T = any>(path: string, body?: unknown): Promise<ApiResponse<T>>;
  /** Any method with a raw string body (for malformed-JSON tests). */
  raw<T = any>(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<ApiResponse<T>>;
}

/** Paths not starting with `/_matrix` get `/_matrix/client/v3` in front. */
function fullPath(path: string): string {
  return path.startsWith('/_') ? path : `/_matrix/client/v3${path.startsWith('/') ? '' : '/'}${path}`;
}

async function request(baseUrl: string, token: string | null, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
  const res = await fetch(baseUrl + fullPath(path), { method, headers: h, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text.length ? JSON.parse(text) : undefined;
  } catch {
    // Non-JSON bodies are returned as text.
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export function api(baseUrl: string, token: string | null = null): Api {
  const json = (b: unknown) => (b === undefined ? undefined : JSON.stringify(b));
  return {
    get: (path, query) => {
      let p = path;
      if (query) {
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
        const s = qs.toString();
        if (s) p += (p.includes('?') ? '&' : '?') + s;
      }
      return request(baseUrl, token, 'GET', p);
    },
    post: (path, body = {}) => request(baseUrl, token, 'POST', path, json(body)),
    put: (path, body = {}) => request(baseUrl, token, 'PUT', path, json(body)),
    delete: (path, body) => request(baseUrl, token, 'DELETE', path, json(body)),
    raw: (method, path, body, headers) => request(baseUrl, token, method, path, body, headers),
  };
}

let counter = 0;

/**
 * Registers a user through the real /register UIA flow: m.login.dummy when the server has
 * open registration, m.login.registration_token when `opts.registrationToken` is given.
 * Retries after 429 (registration is rate-limited per IP and every test client is 127.0.0.1).
 */
export async function registerUser(
  baseUrl: string,
  localpart?: string,
  password?: string,
  opts: { registrationToken?: string; deviceId?: string; displayName?: string } = {},
): Promise<TestUser> {
  const lp = localpart ?? `user${process.pid}x${++counter}`;
  const pw = password ?? `pw-${lp}-secret`;
  const c = api(baseUrl);
  const base = { username: lp, password: pw, device_id: opts.deviceId, initial_device_display_name: opts.displayName };
  for (let attempt = 0; ; attempt++) {
    const first = await c.post('/register', base);
    if (first.status === 429 && attempt < 20) {
      await new Promise((r) => setTimeout(r, Math.min(first.body.retry_after_ms ?? 1000, 5000)));
      continue;
    }
    if (first.status !== 401 || !first.body.session) {
      throw new Error(`register ${lp}: expected a UIA 401, got ${first.status} ${JSON.stringify(first.body)}`);
    }
    const auth = opts.registrationToken
      ? { type: 'm.login.registration_token', token: opts.registrationToken, session: first.body.session }
      : { type: 'm.login.dummy', session: first.body.session };
    const done = await c.post('/register', { ...base, auth });
    if (done.status === 429 && attempt < 20) {
      await new Promise((r) => setTimeout(r, Math.min(done.body.retry_after_ms ?? 1000, 5000)));
      continue;
    }
    if (done.status !== 200) throw new Error(`register ${lp}: ${done.status} ${JSON.stringify(done.body)}`);
    return { userId: done.body.user_id, accessToken: done.body.access_token, deviceId: done.body.device_id, password: pw, localpart: lp };
  }
}

/** Registers the localparts one after another (each as `registerUser` does), in the order given. */
export async function registerUsers(baseUrl: string, localparts: string[]): Promise<TestUser[]> {
  const users: TestUser[] = [];
  for (const lp of localparts) users.push(await registerUser(baseUrl, lp));
  return users;
}

/** Creates a room (a public_chat unless `body` says otherwise) and returns its id; throws on any other status than 200. */
export async function createRoom(client: Api, body: Record<string, unknown> = {}): Promise<string> {
  const r = await client.post('/createRoom', { preset: 'public_chat', ...body });
  if (r.status !== 200) throw new Error(`createRoom ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

/** Logs an existing user in with m.login.password; returns the new session. */
export async function loginUser(baseUrl: string, user: string, password: string, extra: Record<string, unknown> = {}): Promise<ApiResponse> {
  return api(baseUrl).post('/login', { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password, ...extra });
}
