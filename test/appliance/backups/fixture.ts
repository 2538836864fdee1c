/**
 * A server with something worth backing up, made through the real client API: two users, a
 * room with messages (one carrying a unique marker string), E2EE device keys and one-time keys,
 * and an uploaded media file. Plus `syncView()`, the part of /sync a restore must reproduce.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { api, registerUser, type TestUser } from '../../helpers/clients.ts';
import { FakeDevice } from '../../http/client/e2ee/e2ee-helpers.ts';

export interface Populated {
  alice: TestUser;
  bob: TestUser;
  roomId: string;
  /** A string that must never appear in plaintext outside the box. */
  marker: string;
  mediaUri: string;
  mediaBytes: Buffer;
  aliceDevice: FakeDevice;
}

export async function sendText(baseUrl: string, user: TestUser, roomId: string, body: string): Promise<string> {
  const r = await api(baseUrl, user.accessToken).put(`/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${randomUUID()}`, { msgtype: 'm.text', body });
  if (r.status !== 200) throw new Error(`send: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id;
}

export async function uploadMedia(baseUrl: string, user: TestUser, bytes: Buffer): Promise<string> {
  const r = await fetch(`${baseUrl}/_matrix/media/v3/upload?filename=photo.bin`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(bytes),
  });
  if (r.status !== 200) throw new Error(`upload: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { content_uri: string }).content_uri;
}

export async function downloadMedia(baseUrl: string, user: TestUser, mxc: string): Promise<Buffer> {
  const [server, id] = mxc.slice('mxc://'.length).split('/');
  const r = await fetch(`${baseUrl}/_matrix/client/v1/media/download/${server}/${id}`, { headers: { authorization: `Bearer ${user.accessToken}` } });
  if (r.status !== 200) throw new Error(`download: ${r.status} ${await r.text()}`);
  return Buffer.from(await r.arrayBuffer());
}

export async function populate(baseUrl: string, opts: { messages?: number; mediaBytes?: number } = {}): Promise<Populated> {
  const alice = await registerUser(baseUrl, 'alice');
  const bob = await registerUser(baseUrl, 'bob');
  const a = api(baseUrl, alice.accessToken);
  const room = await a.post('/createRoom', { name: 'Family', preset: 'private_chat', invite: [bob.userId] });
  if (room.status !== 200) throw new Error(`createRoom: ${room.status} ${JSON.stringify(room.body)}`);
  const roomId: string = room.body.room_id;
  const join = await api(baseUrl, bob.accessToken).post(`/rooms/${encodeURIComponent(roomId)}/join`, {});
  if (join.status !== 200) throw new Error(`join: ${join.status} ${JSON.stringify(join.body)}`);
  const marker = `hearth-marker-${randomUUID()}`;
  await sendText(baseUrl, alice, roomId, `The secret is ${marker}`);
  for (let i = 0; i < (opts.messages ?? 20); i++) {
    await sendText(baseUrl, i % 2 ? bob : alice, roomId, `message ${i}: ${randomBytes(24).toString('hex')}`);
  }
  const aliceDevice = new FakeDevice(alice.userId, alice.deviceId);
  const keys = await a.post('/keys/upload', { device_keys: aliceDevice.deviceKeys(), one_time_keys: aliceDevice.oneTimeKeys(5), fallback_keys: aliceDevice.fallbackKey() });
  if (keys.status !== 200) throw new Error(`keys/upload: ${keys.status} ${JSON.stringify(keys.body)}`);
  // Random bytes (incompressible) with the marker inside: media must not leak either.
  const mediaBytes = Buffer.concat([randomBytes(opts.mediaBytes ?? 512 * 1024), Buffer.from(marker)]);
  const mediaUri = await uploadMedia(baseUrl, alice, mediaBytes);
  return { alice, bob, roomId, marker, mediaUri, mediaBytes, aliceDevice };
}

/**
 * What a client sees in an initial /sync that a restore must reproduce: joined rooms with their
 * timeline and state event IDs, and account data types. (Stream tokens and E2EE counters are
 * expected to differ: streams move ahead and one-time keys are discarded after a restore.)
 */
export async function syncView(baseUrl: string, user: TestUser): Promise<Record<string, unknown>> {
  const r = await api(baseUrl, user.accessToken).get('/sync', { timeout: 0 });
  if (r.status !== 200) throw new Error(`sync: ${r.status} ${JSON.stringify(r.body)}`);
  const join = (r.body.rooms?.join ?? {}) as Record<string, { timeline: { events: Array<{ event_id: string }> }; state: { events: Array<{ event_id: string }> } }>;
  const rooms: Record<string, unknown> = {};
  for (const [id, room] of Object.entries(join)) {
    rooms[id] = {
      timeline: room.timeline.events.map((e) => e.event_id),
      state: room.state.events.map((e) => e.event_id).sort(),
    };
  }
  const accountData = ((r.body.account_data?.events ?? []) as Array<{ type: string }>).map((e) => e.type).sort();
  return { rooms, accountData };
}
