/**
 * Room discovery across servers: A's published rooms listed to B over federation (GET and
 * filtered POST /publicRooms, and a client on B asking its server with ?server=), a space tree on A walked by a user on B through
 * /_matrix/client/v1/rooms/{roomId}/hierarchy (children B has never seen are fetched with
 * /_matrix/federation/v1/hierarchy; rooms B may not reach are left out), pagination and
 * suggested_only; and OpenID tokens from A checked at A's /openid/userinfo.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { startFederation, type Federation } from '../helpers/federation.ts';
import { createRoom, fedUser, join, type FedUser } from '../helpers/fed-clients.ts';

let fed: Federation;
let alice: FedUser;
let bob: FedUser;
const ids: Record<string, string> = {};

function fedClient(i: number) {
  return fed.servers[i]!.test.server.services.federation.client;
}

before(async () => {
  fed = await startFederation(2);
  alice = await fedUser(fed.servers[0]!, 'alice');
  bob = await fedUser(fed.servers[1]!, 'bob');
  const A = fed.servers[0]!.name;
  const child = (roomId: string, content: Record<string, unknown>) => ({ type: 'm.space.child', state_key: roomId, content: { via: [A], ...content } });
  ids.r1 = await createRoom(alice, { name: 'General', topic: 'talk here', visibility: 'public' });
  ids.r2 = await createRoom(alice, { name: 'Secret', preset: 'private_chat' });
  ids.r3 = await createRoom(alice, { name: 'Deep room' });
  ids.s2 = await createRoom(alice, { name: 'Sub space', creation_content: { type: 'm.space' }, initial_state: [child(ids.r3, {})] });
  ids.space = await createRoom(alice, {
    name: 'The Space',
    visibility: 'public',
    creation_content: { type: 'm.space' },
    initial_state: [child(ids.s2, { order: 'a' }), child(ids.r1, { order: 'b', suggested: true }), child(ids.r2, { order: 'c' })],
  });
});

after(async () => {
  await fed.cleanup();
});

test('B lists A’s published rooms over federation (GET, and POST with a search term and room types)', async () => {
  const A = fed.servers[0]!.name;
  const all = await fedClient(1).request<any>(A, 'GET', '/_matrix/federation/v1/publicRooms');
  const listed = all.chunk.map((r: any) => r.room_id).sort();
  assert.deepEqual(listed, [ids.r1, ids.space].sort(), 'only published rooms');
  const general = all.chunk.find((r: any) => r.room_id === ids.r1);
  assert.equal(general.name, 'General');
  assert.equal(general.topic, 'talk here');
  assert.equal(general.join_rule, 'public');

  const spaces = await fedClient(1).request<any>(A, 'POST', '/_matrix/federation/v1/publicRooms', { body: { filter: { room_types: ['m.space'] } } });
  assert.deepEqual(spaces.chunk.map((r: any) => r.room_id), [ids.space]);
  assert.equal(spaces.chunk[0].room_type, 'm.space');
  const plain = await fedClient(1).request<any>(A, 'POST', '/_matrix/federation/v1/publicRooms', { body: { filter: { room_types: [null] } } });
  assert.deepEqual(plain.chunk.map((r: any) => r.room_id), [ids.r1]);
  const searched = await fedClient(1).request<any>(A, 'POST', '/_matrix/federation/v1/publicRooms', { body: { filter: { generic_search_term: 'TALK' }, limit: 5 } });
  assert.deepEqual(searched.chunk.map((r: any) => r.room_id), [ids.r1]);
  const paged = await fedClient(1).request<any>(A, 'GET', '/_matrix/federation/v1/publicRooms', { query: { limit: 1 } });
  assert.equal(paged.chunk.length, 1);
  assert.equal(typeof paged.next_batch, 'string');
  const bad = await fedClient(1).request(A, 'POST', '/_matrix/federation/v1/publicRooms', { body: { filter: { room_types: [3] } } }).then(() => ({ status: 200 }), (e: { status: number }) => e);
  assert.equal(bad.status, 400);
});

test('a client on B browses A’s directory through its own server (/publicRooms?server=)', async () => {
  const A = fed.servers[0]!.name;
  const got = await bob.api.get('/publicRooms', { server: A });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  assert.deepEqual(got.body.chunk.map((r: any) => r.room_id).sort(), [ids.r1, ids.space].sort());
  const filtered = await bob.api.post(`/publicRooms?server=${encodeURIComponent(A)}`, { filter: { generic_search_term: 'space' } });
  assert.equal(filtered.status, 200);
  assert.deepEqual(filtered.body.chunk.map((r: any) => r.room_id), [ids.space]);
  // Without a token B does not make requests for anyone; an unreachable server is a 502.
  const anon = await fetch(`${fed.servers[1]!.baseUrl}/_matrix/client/v3/publicRooms?server=${encodeURIComponent(A)}`);
  assert.equal(anon.status, 401);
  assert.equal((await bob.api.get('/publicRooms', { server: 'localhost:1' })).status, 502);
  assert.equal((await bob.api.get('/publicRooms', { server: 'not a server' })).status, 400);
});

test('A answers /hierarchy for B with reachable children and lists the others as inaccessible', async () => {
  const A = fed.servers[0]!.name;
  const r = await fedClient(1).request<any>(A, 'GET', `/_matrix/federation/v1/hierarchy/${encodeURIComponent(ids.space)}`);
  assert.equal(r.room.room_id, ids.space);
  assert.equal(r.room.room_type, 'm.space');
  assert.deepEqual(r.room.children_state.map((c: any) => c.state_key), [ids.s2, ids.r1, ids.r2], 'ordered by `order`');
  assert.ok(r.room.children_state.every((c: any) => typeof c.origin_server_ts === 'number' && c.sender === alice.userId));
  assert.deepEqual(r.children.map((c: any) => c.room_id).sort(), [ids.s2, ids.r1].sort());
  assert.deepEqual(r.inaccessible_children, [ids.r2]);
  const s2 = r.children.find((c: any) => c.room_id === ids.s2);
  assert.deepEqual(s2.children_state.map((c: any) => c.state_key), [ids.r3]);
  // The private room itself is not described to B.
  const hidden = await fedClient(1).request(A, 'GET', `/_matrix/federation/v1/hierarchy/${encodeURIComponent(ids.r2)}`).then(() => ({ status: 200 }), (e: { status: number }) => e);
  assert.equal(hidden.status, 404);
});

test('a user on B walks the space depth-first; rooms B has never seen come from A', async () => {
  await join(bob, ids.space, [fed.servers[0]!.name]);
  const path = `/_matrix/client/v1/rooms/${encodeURIComponent(ids.space)}/hierarchy`;
  const r = await bob.api.get(path);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(
    r.body.rooms.map((x: any) => x.name),
    ['The Space', 'Sub space', 'Deep room', 'General'],
    'depth first, the private room left out',
  );
  assert.equal(r.body.next_batch, undefined);
  const space = r.body.rooms[0];
  assert.equal(space.children_state.length, 3);
  assert.equal(space.room_version, '12');

  // One room per page: the same walk.
  const names: string[] = [];
  let from: string | undefined;
  for (let i = 0; i < 10; i++) {
    const page = await bob.api.get(path, { limit: 1, from });
    assert.equal(page.status, 200);
    names.push(...page.body.rooms.map((x: any) => x.name));
    from = page.body.next_batch;
    if (!from) break;
  }
  assert.deepEqual(names, ['The Space', 'Sub space', 'Deep room', 'General']);

  const suggested = await bob.api.get(path, { suggested_only: true });
  assert.deepEqual(suggested.body.rooms.map((x: any) => x.name), ['The Space', 'General']);
  const shallow = await bob.api.get(path, { max_depth: 1 });
  assert.deepEqual(shallow.body.rooms.map((x: any) => x.name), ['The Space', 'Sub space', 'General']);

  const first = await bob.api.get(path, { limit: 1 });
  const changed = await bob.api.get(path, { limit: 1, from: first.body.next_batch, suggested_only: true });
  assert.equal(changed.status, 400);
  assert.equal(changed.body.errcode, 'M_INVALID_PARAM');
  assert.equal((await bob.api.get(path, { from: 'nonsense' })).status, 400);
  assert.equal((await bob.api.get(path, { limit: 0 })).status, 400);
});

test('a room nobody told B about is 403 for the hierarchy', async () => {
  const r = await bob.api.get(`/_matrix/client/v1/rooms/${encodeURIComponent('!unknownroomid')}/hierarchy`);
  assert.equal(r.status, 403);
  assert.equal(r.body.errcode, 'M_FORBIDDEN');
});

test('an OpenID token from A identifies its user at A’s /openid/userinfo, and nothing else', async () => {
  const r = await alice.api.post(`/user/${encodeURIComponent(alice.userId)}/openid/request_token`, {});
  assert.equal(r.status, 200);
  assert.equal(r.body.token_type, 'Bearer');
  assert.equal(r.body.matrix_server_name, fed.servers[0]!.name);
  assert.ok(r.body.expires_in > 0);
  const userinfo = (token: string) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      https
        .get(
          { host: '127.0.0.1', port: fed.servers[0]!.port, path: `/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(token)}`, ca: readFileSync(fed.certs.caFile), servername: 'localhost' },
          (res) => {
            let data = '';
            res.on('data', (c) => (data += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) }));
          },
        )
        .on('error', reject);
    });
  assert.deepEqual(await userinfo(r.body.access_token), { status: 200, body: { sub: alice.userId } });
  const unknown = await userinfo('not-a-token');
  assert.equal(unknown.status, 401);
  assert.equal(unknown.body.errcode, 'M_UNKNOWN_TOKEN');
  // The OpenID token is no access token.
  const asClient = await fetch(`${fed.servers[0]!.baseUrl}/_matrix/client/v3/account/whoami`, { headers: { authorization: `Bearer ${r.body.access_token}` } });
  assert.equal(asClient.status, 401);
  // Only for oneself.
  const other = await bob.api.post(`/user/${encodeURIComponent(alice.userId)}/openid/request_token`, {});
  assert.equal(other.status, 403);
});
