/**
 * Client helpers for federation tests: users on each server, polling until something arrives
 * over federation, reading a room's timeline and state through the client-server API.
 */
import { api, registerUser, type Api, type TestUser } from './clients.ts';
import type { FedServer } from './federation.ts';

export interface FedUser extends TestUser {
  server: FedServer;
  api: Api;
}

export async function fedUser(server: FedServer, localpart: string): Promise<FedUser> {
  const u = await registerUser(server.baseUrl, localpart);
  return { ...u, server, api: api(server.baseUrl, u.accessToken) };
}

/** Re-points a user's client at their server's current base URL (after a restart). */
export function refresh(u: FedUser): FedUser {
  u.api = api(u.server.baseUrl, u.accessToken);
  return u;
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The newest `limit` timeline events of a room as the user sees them (oldest first). */
export async function timeline(u: FedUser, roomId: string, limit = 50): Promise<any[]> {
  const r = await u.api.get(`/rooms/${encodeURIComponent(roomId)}/messages`, { dir: 'b', limit });
  if (r.status !== 200) throw new Error(`/messages ${r.status} ${JSON.stringify(r.body)}`);
  return [...r.body.chunk].reverse();
}

export async function messageBodies(u: FedUser, roomId: string, limit = 50): Promise<string[]> {
  return (await timeline(u, roomId, limit)).filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
}

export async function send(u: FedUser, roomId: string, body: string): Promise<string> {
  const r = await u.api.put(`/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${Math.random().toString(36).slice(2)}`, { msgtype: 'm.text', body });
  if (r.status !== 200) throw new Error(`send ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id;
}

export async function stateEvent(u: FedUser, roomId: string, type: string, stateKey = ''): Promise<any | undefined> {
  const r = await u.api.get(`/rooms/${encodeURIComponent(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`);
  return r.status === 200 ? r.body : undefined;
}

export async function createRoom(u: FedUser, body: Record<string, unknown> = {}): Promise<string> {
  const r = await u.api.post('/createRoom', { preset: 'public_chat', ...body });
  if (r.status !== 200) throw new Error(`createRoom ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

export async function join(u: FedUser, roomIdOrAlias: string, via: string[] = []): Promise<string> {
  const qs = via.map((v) => `server_name=${encodeURIComponent(v)}`).join('&');
  const r = await u.api.post(`/join/${encodeURIComponent(roomIdOrAlias)}${qs ? `?${qs}` : ''}`, {});
  if (r.status !== 200) throw new Error(`join ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}
