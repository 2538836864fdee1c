/**
 * Membership handshakes beyond plain joins, between two real servers: joining through a remote
 * alias (/query/directory), knocking (make_knock/send_knock) and being let in, a restricted room
 * joined through an authorising server (join_authorised_via_users_server, countersigned), and a
 * third-party invite exchanged after an identity server's /3pid/onbind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTwoServers, type Federation } from '../helpers/federation.ts';
import { createRoom, fedUser, join, stateEvent, waitFor, type FedUser } from '../helpers/fed-clients.ts';
import { api } from '../helpers/clients.ts';
import { signJson, signingKeyFromSeed } from '../../server/protocol/signing.ts';

let fed: Federation;
let alice: FedUser; // on A
let bob: FedUser; // on B
let carol: FedUser; // on B
const A = () => fed.servers[0]!;
const B = () => fed.servers[1]!;

before(async () => {
  ({ fed, alice, bob } = await startTwoServers());
  carol = await fedUser(B(), 'carol');
});
after(async () => {
  await fed.cleanup();
});

const enc = encodeURIComponent;

test('joining through a remote alias asks the alias’s server', async () => {
  const roomId = await createRoom(alice, { room_alias_name: 'lobby', name: 'Lobby' });
  const alias = `#lobby:${A().name}`;
  assert.equal(await join(bob, alias), roomId);
  assert.equal((await stateEvent(bob, roomId, 'm.room.name'))?.name, 'Lobby');
  // The client directory lookup of a remote alias works too.
  const r = await bob.api.get(`/directory/room/${enc(alias)}`);
  if (r.status === 200) assert.equal(r.body.room_id, roomId);
});

test('knocking over federation, then being let in', async () => {
  const roomId = await createRoom(alice, { preset: 'private_chat', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
  const k = await bob.api.post(`/knock/${enc(roomId)}?server_name=${enc(A().name)}`, { reason: 'let me in' });
  assert.equal(k.status, 200, JSON.stringify(k.body));
  await waitFor('A sees the knock', async () => (await stateEvent(alice, roomId, 'm.room.member', bob.userId))?.membership === 'knock');
  // B's client sees the knocked room.
  const s = await bob.api.get('/sync');
  assert.ok(s.body.rooms?.knock?.[roomId], 'room in the knock section');
  assert.equal((await alice.api.post(`/rooms/${enc(roomId)}/invite`, { user_id: bob.userId })).status, 200);
  await waitFor('bob invited', async () => (await bob.api.get('/sync')).body.rooms?.invite?.[roomId]);
  assert.equal(await join(bob, roomId), roomId);
  await waitFor('A sees bob joined', async () => (await stateEvent(alice, roomId, 'm.room.member', bob.userId))?.membership === 'join');
});

test('a restricted room is joined through an authorising server; others are refused', async () => {
  const space = await createRoom(alice, { name: 'space' });
  const restricted = await createRoom(alice, {
    preset: 'private_chat',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: space }] } }],
  });
  await join(bob, space, [A().name]);
  await waitFor('A sees bob in the space', async () => (await stateEvent(alice, restricted, 'm.room.create')) && (await stateEvent(alice, space, 'm.room.member', bob.userId))?.membership === 'join');
  assert.equal(await join(bob, restricted, [A().name]), restricted);
  const member = await stateEvent(alice, restricted, 'm.room.member', bob.userId);
  assert.equal(member?.membership, 'join');
  assert.equal(member?.join_authorised_via_users_server, alice.userId);
  // Carol is in no allowed room.
  const r = await carol.api.post(`/join/${enc(restricted)}?server_name=${enc(A().name)}`, {});
  assert.equal(r.status, 403, JSON.stringify(r.body));
});

test('a third-party invite is exchanged for a real invite after /3pid/onbind', async () => {
  const roomId = await createRoom(alice, { preset: 'private_chat' });
  // The identity server's key, and the room's m.room.third_party_invite naming it.
  const isKey = signingKeyFromSeed(new Uint8Array(32).fill(5), 'ed25519:0');
  const token = 'invite-token-1';
  const tpi = await alice.api.put(`/rooms/${enc(roomId)}/state/m.room.third_party_invite/${token}`, {
    display_name: 'b…@example.org',
    key_validity_url: 'https://id.example/_matrix/identity/v2/pubkey/isvalid',
    public_key: isKey.publicKeyBase64,
    public_keys: [{ public_key: isKey.publicKeyBase64, key_validity_url: 'https://id.example/_matrix/identity/v2/pubkey/isvalid' }],
  });
  assert.equal(tpi.status, 200, JSON.stringify(tpi.body));
  const signed = signJson({ mxid: carol.userId, token }, 'id.example', isKey.keyId, isKey.seed);
  const onbind = await api(B().baseUrl).put('/_matrix/federation/v1/3pid/onbind', {
    medium: 'email',
    address: 'carol@example.org',
    mxid: carol.userId,
    invites: [{ medium: 'email', address: 'carol@example.org', mxid: carol.userId, room_id: roomId, sender: alice.userId, signed }],
  });
  assert.equal(onbind.status, 200, JSON.stringify(onbind.body));
  await waitFor('carol invited', async () => (await carol.api.get('/sync')).body.rooms?.invite?.[roomId]);
  const member = await stateEvent(alice, roomId, 'm.room.member', carol.userId);
  assert.equal(member?.membership, 'invite');
  assert.equal(member?.third_party_invite?.signed?.token, token);
  assert.equal(await join(carol, roomId), roomId);

  // A forged proof (signed by another key) is refused by the inviting server.
  const forged = signJson({ mxid: bob.userId, token }, 'id.example', 'ed25519:0', signingKeyFromSeed(new Uint8Array(32).fill(6), 'ed25519:0').seed);
  await assert.rejects(
    B().test.server.services.federation.client.request(A().name, 'PUT', `/_matrix/federation/v1/exchange_third_party_invite/${enc(roomId)}`, {
      body: { type: 'm.room.member', room_id: roomId, sender: alice.userId, state_key: bob.userId, content: { membership: 'invite', third_party_invite: { display_name: 'x', signed: forged } } },
    }),
    (e: any) => e.status === 403,
  );
});
