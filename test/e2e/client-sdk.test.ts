/**
 * matrix-js-sdk 36 as a real client against Hearth over HTTP (issue 4 "Must show"): two users
 * registered with a registration token and logged in through the SDK; create a room, invite,
 * join, send, receive through the SDK's sync loop, edit, react, reply in a thread, redact,
 * typing and read receipts seen by the other user, paginate back through 500 messages in order,
 * leave and rejoin, and a profile change reflected in the room.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sdk, {
  ClientEvent,
  Direction,
  EventType,
  MsgType,
  RelationType,
  THREAD_RELATION_TYPE,
  type MatrixClient,
  type MatrixEvent,
  type Room,
} from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { api, registerUser, type TestUser } from '../helpers/clients.ts';

logger.setLevel('error');
// matrix-js-sdk arms a 110 s timer per /sync request (timeoutSignal) and never clears it; unref
// such long timers so the test process can exit once the clients are stopped.
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((fn: () => void, ms?: number, ...args: unknown[]) => {
  const t = realSetTimeout(fn, ms, ...args) as unknown as NodeJS.Timeout;
  if ((ms ?? 0) >= 60_000) t.unref();
  return t;
}) as unknown as typeof setTimeout;


let ts: TestServer;
let alice: MatrixClient;
let bob: MatrixClient;
let aliceUser: TestUser;
let bobUser: TestUser;
const started: MatrixClient[] = [];

async function waitFor<T>(what: string, pred: () => T | undefined | null | false, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function login(user: TestUser): Promise<MatrixClient> {
  const anon = sdk.createClient({ baseUrl: ts.baseUrl });
  const res = await anon.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: user.localpart }, password: user.password });
  const client = sdk.createClient({ baseUrl: ts.baseUrl, accessToken: res.access_token, userId: res.user_id, deviceId: res.device_id });
  const prepared = new Promise<void>((resolve, reject) => {
    client.on(ClientEvent.Sync, (state) => {
      if (state === 'PREPARED') resolve();
      else if (state === 'ERROR') reject(new Error(`sync error for ${res.user_id}`));
    });
  });
  await client.startClient({ initialSyncLimit: 20, threadSupport: true });
  await prepared;
  started.push(client);
  return client;
}

function bodies(room: Room): string[] {
  return room
    .getLiveTimeline()
    .getEvents()
    .filter((e) => e.getType() === EventType.RoomMessage)
    .map((e) => e.getContent().body as string);
}

function findMessage(room: Room | null, body: string): MatrixEvent | undefined {
  return room?.getLiveTimeline().getEvents().find((e) => e.getType() === EventType.RoomMessage && e.getContent().body === body);
}

before(async () => {
  // Registration is closed unless a token is given (the appliance default).
  ts = await startTestServer({ rate_limits: false });
  const { token } = await ts.server.services.registration.createRegistrationToken({ usesAllowed: 2 });
  aliceUser = await registerUser(ts.baseUrl, 'alice', 'alice-password', { registrationToken: token });
  bobUser = await registerUser(ts.baseUrl, 'bob', 'bob-password', { registrationToken: token });
  alice = await login(aliceUser);
  bob = await login(bobUser);
});

after(async () => {
  for (const c of started) c.stopClient();
  await ts.cleanup();
});

test('create, invite, join, send, edit, react, thread, redact, typing, receipts, profile, leave and rejoin', async () => {
  const { room_id: roomId } = await alice.createRoom({ name: 'SDK room', preset: sdk.Preset.PublicChat, invite: [bobUser.userId] });

  // Bob sees the invite through his sync loop and joins.
  await waitFor('invite for bob', () => bob.getRoom(roomId)?.getMyMembership() === 'invite');
  await bob.joinRoom(roomId);
  const aliceRoom = await waitFor('alice room', () => alice.getRoom(roomId));
  await waitFor('bob joined (alice view)', () => aliceRoom.getMember(bobUser.userId)?.membership === 'join');
  assert.equal(aliceRoom.name, 'SDK room');

  // Send and receive.
  const { event_id: helloId } = await alice.sendTextMessage(roomId, 'hello bob');
  const bobRoom = await waitFor('bob room', () => bob.getRoom(roomId));
  const hello = await waitFor('hello at bob', () => findMessage(bobRoom, 'hello bob'));
  assert.equal(hello.getId(), helloId);
  assert.equal(hello.getSender(), aliceUser.userId);

  // Edit (m.replace): bob's client shows the new content.
  await alice.sendEvent(roomId, EventType.RoomMessage, {
    msgtype: MsgType.Text,
    body: '* hello bob!',
    'm.new_content': { msgtype: MsgType.Text, body: 'hello bob!' },
    'm.relates_to': { rel_type: RelationType.Replace, event_id: helloId },
  });
  await waitFor('edit at bob', () => hello.replacingEvent() && hello.getContent().body === 'hello bob!');

  // Reaction (m.annotation): alice sees bob's 👍.
  await bob.sendEvent(roomId, EventType.Reaction, { 'm.relates_to': { rel_type: RelationType.Annotation, event_id: helloId, key: '👍' } });
  await waitFor('reaction at alice', () => {
    const rel = aliceRoom.relations.getChildEventsForEvent(helloId, RelationType.Annotation, EventType.Reaction);
    return rel?.getRelations().some((e) => e.getSender() === bobUser.userId && e.getRelation()?.key === '👍');
  });

  // Thread reply: alice sees a thread under her message with bob's reply.
  await bob.sendEvent(roomId, EventType.RoomMessage, {
    msgtype: MsgType.Text,
    body: 'in a thread',
    'm.relates_to': { rel_type: THREAD_RELATION_TYPE.name, event_id: helloId, is_falling_back: true, 'm.in_reply_to': { event_id: helloId } },
  } as never);
  const thread = await waitFor('thread at alice', () => aliceRoom.getThread(helloId));
  await waitFor('thread reply at alice', () => thread.events.some((e) => e.getContent().body === 'in a thread'));
  // The server's own view agrees: /threads lists the root, with the m.thread aggregation.
  const threads = await api(ts.baseUrl, aliceUser.accessToken).get(`/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/threads`);

  assert.equal(threads.body.chunk[0].event_id, helloId);
  assert.equal(threads.body.chunk[0].unsigned['m.relations']['m.thread'].count, 1);

  // Redaction: bob sees alice's second message redacted.
  const { event_id: oopsId } = await alice.sendTextMessage(roomId, 'oops');
  const oops = await waitFor('oops at bob', () => findMessage(bobRoom, 'oops'));
  await alice.redactEvent(roomId, oopsId);
  await waitFor('redaction at bob', () => oops.isRedacted());
  assert.equal(oops.getContent().body, undefined);

  // Typing: bob sees alice typing, then stop.
  await alice.sendTyping(roomId, true, 30_000);
  await waitFor('alice typing at bob', () => bobRoom.getMember(aliceUser.userId)?.typing === true);
  await alice.sendTyping(roomId, false, 0);
  await waitFor('alice stopped typing at bob', () => bobRoom.getMember(aliceUser.userId)?.typing === false);

  // Read receipt: alice sees bob has read up to her message.
  const { event_id: readMeId } = await alice.sendTextMessage(roomId, 'read me');
  const readMe = await waitFor('read me at bob', () => findMessage(bobRoom, 'read me'));
  await bob.sendReadReceipt(readMe);
  await waitFor('bob receipt at alice', () => aliceRoom.getEventReadUpTo(bobUser.userId) === readMeId);

  // Profile change reflected in the room (the server updates bob's member event).
  await bob.setDisplayName('Bobby');
  await waitFor('bob renamed at alice', () => aliceRoom.getMember(bobUser.userId)?.name === 'Bobby');

  // Leave and rejoin.
  await bob.leave(roomId);
  await waitFor('bob left (alice view)', () => aliceRoom.getMember(bobUser.userId)?.membership === 'leave');
  await waitFor('bob left (own view)', () => bob.getRoom(roomId)?.getMyMembership() === 'leave');
  await bob.joinRoom(roomId);
  await waitFor('bob rejoined (alice view)', () => aliceRoom.getMember(bobUser.userId)?.membership === 'join');
  await alice.sendTextMessage(roomId, 'welcome back');
  await waitFor('message after rejoin at bob', () => findMessage(bob.getRoom(roomId), 'welcome back'));
});

test('paginate back through 500 messages in order', async () => {
  const { room_id: roomId } = await alice.createRoom({ name: 'history', preset: sdk.Preset.PublicChat });
  const a = api(ts.baseUrl, aliceUser.accessToken);
  // Send quickly over HTTP, 10 at a time in order of their number within each batch.
  for (let i = 0; i < 500; i += 10) {
    for (let j = i; j < i + 10; j++) {
      const r = await a.put(`/rooms/${encodeURIComponent(roomId)}/send/m.room.message/hist${j}`, { msgtype: 'm.text', body: `msg ${j}` });
      assert.equal(r.status, 200);
    }
  }
  await bob.joinRoom(roomId);
  const room = await waitFor('history room at bob', () => bob.getRoom(roomId));
  await waitFor('latest message at bob', () => findMessage(room, 'msg 499'));
  for (let i = 0; i < 40 && room.getLiveTimeline().getPaginationToken(Direction.Backward) !== null; i++) {
    await bob.scrollback(room, 50);
  }
  const got = bodies(room);
  assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => `msg ${i}`));
  assert.equal(room.getLiveTimeline().getEvents()[0]!.getType(), EventType.RoomCreate);
});
