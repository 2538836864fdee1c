/**
 * Push rules: the spec's default rule set, CRUD with before/after ordering, enabled/actions on
 * defaults and user rules. Spec: client-server-api/modules/push.md.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { api, registerUser, type Api, type TestUser } from '../../helpers/clients.ts';

let ts: TestServer;
let u: TestUser;
let me: Api;

before(async () => {
  ts = await startTestServer({ open_registration: true });
  u = await registerUser(ts.baseUrl, 'pusher');
  me = api(ts.baseUrl, u.accessToken);
});
after(async () => {
  await ts.cleanup();
});

const ids = (rules: Array<{ rule_id: string }>) => rules.map((r) => r.rule_id);

test('defaults: every kind present, spec order, user ID substituted', async () => {
  const r = await me.get('/pushrules/');
  assert.equal(r.status, 200);
  const g = r.body.global;
  assert.deepEqual(Object.keys(g).sort(), ['content', 'override', 'room', 'sender', 'underride']);
  assert.deepEqual(ids(g.override), [
    '.m.rule.master',
    '.m.rule.suppress_notices',
    '.m.rule.invite_for_me',
    '.m.rule.member_event',
    '.m.rule.is_user_mention',
    '.m.rule.is_room_mention',
    '.m.rule.tombstone',
    '.m.rule.reaction',
    '.m.rule.room.server_acl',
    '.m.rule.suppress_edits',
  ]);
  assert.deepEqual(ids(g.underride), ['.m.rule.call', '.m.rule.encrypted_room_one_to_one', '.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted']);
  assert.deepEqual(g.override[0], { rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] });
  const mention = g.override.find((x: { rule_id: string }) => x.rule_id === '.m.rule.is_user_mention');
  assert.deepEqual(mention.conditions, [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: u.userId }]);
  assert.deepEqual(mention.actions, ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }]);
  const invite = g.override.find((x: { rule_id: string }) => x.rule_id === '.m.rule.invite_for_me');
  assert.equal(invite.conditions[2].pattern, u.userId);
  for (const rule of [...g.override, ...g.underride]) assert.equal(rule.default, true);
  assert.deepEqual((await me.get('/pushrules/global/')).body, g);
  const services = await ts.server.services.pushRules.getPushRules(u.userId);
  assert.deepEqual(JSON.parse(JSON.stringify(services)), r.body);
});

test('create, order with before/after, read, change and delete user rules', async () => {
  const put = (kind: string, id: string, body: unknown, q = '') => me.put(`/pushrules/global/${kind}/${encodeURIComponent(id)}${q}`, body);
  assert.equal((await put('content', 'tea', { pattern: 'tea', actions: ['notify'] })).status, 200);
  assert.equal((await put('content', 'cake', { pattern: 'cake*lie', actions: ['notify', { set_tweak: 'highlight' }] })).status, 200);
  // Newest first when no position is given.
  assert.deepEqual(ids((await me.get('/pushrules/')).body.global.content), ['cake', 'tea']);
  assert.equal((await put('content', 'scones', { pattern: 'scones', actions: [] }, '?after=tea')).status, 200);
  assert.equal((await put('content', 'jam', { pattern: 'jam', actions: [] }, '?before=tea')).status, 200);
  assert.deepEqual(ids((await me.get('/pushrules/')).body.global.content), ['cake', 'jam', 'tea', 'scones']);
  // Updating keeps the position unless told otherwise.
  assert.equal((await put('content', 'cake', { pattern: 'cake', actions: ['notify'] })).status, 200);
  assert.deepEqual(ids((await me.get('/pushrules/')).body.global.content), ['cake', 'jam', 'tea', 'scones']);
  const missingAnchor = await put('content', 'x', { pattern: 'x', actions: [] }, '?before=nope');
  assert.deepEqual([missingAnchor.status, missingAnchor.body.errcode], [400, 'M_UNKNOWN']);
  assert.equal((await me.get('/pushrules/global/content/x')).status, 404, 'a failed PUT leaves nothing behind');

  const one = await me.get('/pushrules/global/content/cake');
  assert.deepEqual(one.body, { rule_id: 'cake', default: false, enabled: true, actions: ['notify'], pattern: 'cake' });

  const room = '!abc:localhost';
  assert.equal((await put('room', room, { actions: ['dont_notify'] })).status, 200);
  assert.deepEqual((await me.get(`/pushrules/global/room/${encodeURIComponent(room)}`)).body, {
    rule_id: room,
    default: false,
    enabled: true,
    actions: ['dont_notify'],
  });
  const cond = [{ kind: 'event_match', key: 'content.body', pattern: 'hello*' }];
  assert.equal((await put('override', 'hello', { conditions: cond, actions: ['notify'] })).status, 200);
  const overrides = ids((await me.get('/pushrules/')).body.global.override);
  assert.deepEqual(overrides.slice(0, 3), ['.m.rule.master', 'hello', '.m.rule.suppress_notices'], 'user overrides sit after master, before defaults');

  // enabled / actions on a user rule.
  assert.equal((await me.put('/pushrules/global/content/tea/enabled', { enabled: false })).status, 200);
  assert.deepEqual((await me.get('/pushrules/global/content/tea/enabled')).body, { enabled: false });
  assert.equal((await me.put('/pushrules/global/content/tea/actions', { actions: ['notify'] })).status, 200);
  assert.deepEqual((await me.get('/pushrules/global/content/tea/actions')).body, { actions: ['notify'] });

  assert.equal((await me.delete('/pushrules/global/content/tea')).status, 200);
  assert.equal((await me.get('/pushrules/global/content/tea')).body.errcode, 'M_NOT_FOUND');
  assert.equal((await me.delete('/pushrules/global/content/tea')).status, 404);
});

test('server-default rules: enable master, change actions, cannot create or delete', async () => {
  assert.equal((await me.put('/pushrules/global/override/.m.rule.master/enabled', { enabled: true })).status, 200);
  assert.deepEqual((await me.get('/pushrules/global/override/.m.rule.master/enabled')).body, { enabled: true });
  assert.equal((await me.put('/pushrules/global/underride/.m.rule.message/actions', { actions: [] })).status, 200);
  const g = (await me.get('/pushrules/')).body.global;
  assert.equal(g.override[0].enabled, true);
  assert.deepEqual(g.underride.find((r: { rule_id: string }) => r.rule_id === '.m.rule.message').actions, []);
  // Changing actions left enabled alone, and vice versa.
  assert.equal((await me.put('/pushrules/global/underride/.m.rule.message/enabled', { enabled: false })).status, 200);
  const msg = (await me.get('/pushrules/global/underride/.m.rule.message')).body;
  assert.deepEqual([msg.enabled, msg.actions, msg.default], [false, [], true]);

  const create = await me.put('/pushrules/global/override/.m.rule.mine', { actions: [] });
  assert.deepEqual([create.status, create.body.errcode], [400, 'M_INVALID_PARAM']);
  assert.equal((await me.delete('/pushrules/global/override/.m.rule.master')).status, 400);
  assert.equal((await me.put('/pushrules/global/override/.m.rule.nope/enabled', { enabled: true })).status, 404);

  // Another user still has the spec defaults.
  const other = await registerUser(ts.baseUrl, 'quiet');
  const og = (await api(ts.baseUrl, other.accessToken).get('/pushrules/')).body.global;
  assert.equal(og.override[0].enabled, false);
  assert.deepEqual(og.content, []);
});

test('bad push rule input is a 4xx, never a 500', async () => {
  const cases: Array<[string, string, unknown, string]> = [
    ['PUT', '/pushrules/global/content/x', { actions: ['notify'] }, 'M_MISSING_PARAM'],
    ['PUT', '/pushrules/global/content/x', { pattern: 5, actions: [] }, 'M_BAD_JSON'],
    ['PUT', '/pushrules/global/override/x', { conditions: 'no', actions: [] }, 'M_BAD_JSON'],
    ['PUT', '/pushrules/global/override/x', { conditions: [{ key: 'type' }], actions: [] }, 'M_BAD_JSON'],
    ['PUT', '/pushrules/global/override/x', {}, 'M_MISSING_PARAM'],
    ['PUT', '/pushrules/global/override/x', { actions: 'notify' }, 'M_BAD_JSON'],
    ['PUT', '/pushrules/global/override/x', { actions: ['explode'] }, 'M_INVALID_PARAM'],
    ['PUT', '/pushrules/global/override/x', { actions: [{ value: 1 }] }, 'M_INVALID_PARAM'],
    ['PUT', '/pushrules/global/bogus/x', { actions: [] }, 'M_INVALID_PARAM'],
    ['PUT', '/pushrules/device/override/x', { actions: [] }, 'M_UNRECOGNIZED'],
    ['PUT', '/pushrules/global/override/a%2Fb', { actions: [] }, 'M_INVALID_PARAM'],
    ['PUT', '/pushrules/global/override/.m.rule.master/enabled', { enabled: 'yes' }, 'M_BAD_JSON'],
    ['PUT', '/pushrules/global/override/.m.rule.master/enabled', {}, 'M_MISSING_PARAM'],
  ];
  for (const [method, path, body, errcode] of cases) {
    const r = await me.raw(method, path, JSON.stringify(body));
    assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} ${JSON.stringify(body)} → ${r.status}`);
    assert.equal(r.body.errcode, errcode, `${method} ${path} ${JSON.stringify(body)}`);
  }
  const notJson = await me.raw('PUT', '/pushrules/global/override/x', '{nope');
  assert.equal(notJson.body.errcode, 'M_NOT_JSON');
});
