/**
 * Send-to-device messaging over real HTTP (send_to_device.md, to_device.yaml): delivered in
 * order, once and only once across /sync retries, acknowledged by the next `since`, idempotent
 * per transaction ID, `*` fans out to every device.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../helpers/server.ts';
import { api, registerUser, type Api, type TestUser } from '../../../helpers/clients.ts';
import { loginAgain, sync } from './e2ee-helpers.ts';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ open_registration: true });
});
after(async () => {
  await srv.cleanup();
});

let txn = 0;
function send(c: Api, to: TestUser, deviceId: string, content: Record<string, unknown>, type = 'm.test', txnId = `t${++txn}`) {
  return c.put(`/sendToDevice/${type}/${txnId}`, { messages: { [to.userId]: { [deviceId]: content } } });
}

test('a message is delivered again until acknowledged, then never again', async () => {
  const alice = await registerUser(srv.baseUrl);
  const bob = await registerUser(srv.baseUrl);
  const a = api(srv.baseUrl, alice.accessToken);
  const b = api(srv.baseUrl, bob.accessToken);
  const first = await sync(b);
  assert.deepEqual(first.to_device.events, []);

  const r = await send(a, bob, bob.deviceId, { hello: 'bob' }, 'm.room_key_request');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, {});

  const got = await sync(b, first.next_batch);
  assert.deepEqual(got.to_device.events, [{ sender: alice.userId, type: 'm.room_key_request', content: { hello: 'bob' } }]);
  // The response was lost: the client retries with the same since and gets the message again.
  const retry = await sync(b, first.next_batch);
  assert.deepEqual(retry.to_device.events, got.to_device.events);
  // Using the next token acknowledges it.
  const next = await sync(b, retry.next_batch);
  assert.deepEqual(next.to_device.events, []);
  const older = await sync(b, first.next_batch);
  assert.deepEqual(older.to_device.events, [], 'acknowledged messages are deleted, even for an old token');
});

test('the same transaction ID from the same device sends once; from another device it is a new send', async () => {
  const alice = await registerUser(srv.baseUrl);
  const alice2 = await loginAgain(srv.baseUrl, alice);
  const bob = await registerUser(srv.baseUrl);
  const b = api(srv.baseUrl, bob.accessToken);
  const a1 = api(srv.baseUrl, alice.accessToken);
  await send(a1, bob, bob.deviceId, { n: 1 }, 'm.test', 'same');
  assert.equal((await send(a1, bob, bob.deviceId, { n: 1 }, 'm.test', 'same')).status, 200, 'a retry is answered 200');
  await send(api(srv.baseUrl, alice2.accessToken), bob, bob.deviceId, { n: 2 }, 'm.test', 'same');
  const got = await sync(b);
  assert.deepEqual(got.to_device.events.map((e: any) => e.content.n), [1, 2]);
});

test('messages arrive in order; a long queue comes 100 at a time with nothing lost or repeated', async () => {
  const alice = await registerUser(srv.baseUrl);
  const bob = await registerUser(srv.baseUrl);
  const a = api(srv.baseUrl, alice.accessToken);
  const b = api(srv.baseUrl, bob.accessToken);
  for (let i = 0; i < 150; i += 10) {
    await Promise.all(
      Array.from({ length: 10 }, (_, j) => j).map((j) => send(a, bob, bob.deviceId, { i: i + j }, 'm.test', `order-${i + j}`)),
    );
  }
  const seen: number[] = [];
  let since: string | undefined;
  for (let round = 0; round < 4; round++) {
    const r = await sync(b, since);
    if (round === 0) assert.equal(r.to_device.events.length, 100, 'at most 100 per response');
    seen.push(...r.to_device.events.map((e: any) => e.content.i));
    since = r.next_batch;
  }
  assert.equal(seen.length, 150);
  assert.deepEqual([...seen].sort((x, y) => x - y), Array.from({ length: 150 }, (_, i) => i));
  // Within each batch of 10 concurrent sends the order is arrival order; batches are sequential.
  for (let k = 0; k < 150; k += 10) assert.deepEqual(seen.slice(k, k + 10).sort((x, y) => x - y), Array.from({ length: 10 }, (_, j) => k + j));
  const seq = await sync(b, since);
  assert.deepEqual(seq.to_device.events, []);
  // Strict order for sequential sends.
  for (let i = 0; i < 5; i++) await send(a, bob, bob.deviceId, { s: i });
  assert.deepEqual((await sync(b, seq.next_batch)).to_device.events.map((e: any) => e.content.s), [0, 1, 2, 3, 4]);
});

test('`*` reaches every device of the user once; explicit entries override it', async () => {
  const alice = await registerUser(srv.baseUrl);
  const bob = await registerUser(srv.baseUrl);
  const bob2 = await loginAgain(srv.baseUrl, bob);
  const bob3 = await loginAgain(srv.baseUrl, bob);
  const a = api(srv.baseUrl, alice.accessToken);
  const r = await a.put('/sendToDevice/m.test/star', {
    messages: { [bob.userId]: { '*': { to: 'all' }, [bob3.deviceId]: { to: 'three' } } },
  });
  assert.equal(r.status, 200);
  const contents = await Promise.all([bob, bob2, bob3].map(async (u) => (await sync(api(srv.baseUrl, u.accessToken))).to_device.events.map((e: any) => e.content.to)));
  assert.deepEqual(contents, [['all'], ['all'], ['three']]);
});

test('a waiting /sync wakes up when a message arrives', async () => {
  const alice = await registerUser(srv.baseUrl);
  const bob = await registerUser(srv.baseUrl);
  const b = api(srv.baseUrl, bob.accessToken);
  const { next_batch } = await sync(b);
  const started = Date.now();
  const waiting = sync(b, next_batch, 20_000);
  await new Promise((r) => setTimeout(r, 200));
  await send(api(srv.baseUrl, alice.accessToken), bob, bob.deviceId, { wake: true });
  const res = await waiting;
  assert.deepEqual(res.to_device.events.map((e: any) => e.content), [{ wake: true }]);
  assert.ok(Date.now() - started < 10_000, 'returned on the message, not the timeout');
});

test('unknown devices get nothing; a deleted device loses its queue; bad requests are 400', async () => {
  const alice = await registerUser(srv.baseUrl);
  const bob = await registerUser(srv.baseUrl);
  const bob2 = await loginAgain(srv.baseUrl, bob);
  const a = api(srv.baseUrl, alice.accessToken);
  assert.equal((await send(a, bob, 'NOSUCHDEVICE', { x: 1 })).status, 200);
  await send(a, bob, bob2.deviceId, { x: 2 });
  const del = await api(srv.baseUrl, bob2.accessToken).post('/logout');
  assert.equal(del.status, 200);
  // A new login that reuses the device ID starts with an empty inbox.
  const again = await api(srv.baseUrl).post('/login', {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: bob.userId },
    password: bob.password,
    device_id: bob2.deviceId,
  });
  assert.deepEqual((await sync(api(srv.baseUrl, again.body.access_token))).to_device.events, []);
  assert.deepEqual((await sync(api(srv.baseUrl, bob.accessToken))).to_device.events, []);

  assert.equal((await a.put('/sendToDevice/m.test/bad1', {})).body.errcode, 'M_MISSING_PARAM');
  assert.equal((await a.put('/sendToDevice/m.test/bad2', { messages: { [bob.userId]: { D: 'str' } } })).status, 400);
  assert.equal((await a.put('/sendToDevice/m.test/bad3', { messages: [] })).status, 400);
  const remote = await a.put('/sendToDevice/m.test/remote', { messages: { '@x:elsewhere.example': { D: { a: 1 } } } });
  assert.equal(remote.status, 200, 'remote recipients are accepted (forwarded once federation exists)');
});
