/**
 * `hearth token` against the data directory of a running server: a token made on the command
 * line lets someone register over HTTP, and `token list` shows it used up.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { hearth } from '../../helpers/cli.ts';
import { registerUser } from '../../helpers/clients.ts';
import { parseExpiry } from '../../../server/cli/token.ts';

let ts: TestServer;

before(async () => {
  ts = await startTestServer();
});
after(async () => {
  await ts.cleanup();
});

test('token create / list / delete while the server runs', async () => {
  const created = hearth(['token', 'create', '--uses', '1', '--expires', '7d', '--data-dir', ts.dataDir]);
  assert.equal(created.status, 0, created.stderr);
  const token = created.stdout.trim();
  assert.match(token, /^[A-Za-z0-9]{16}$/);

  const u = await registerUser(ts.baseUrl, 'invited', 'pw-invited', { registrationToken: token });
  assert.equal(u.userId, '@invited:localhost');
  await assert.rejects(registerUser(ts.baseUrl, 'gatecrasher', 'pw', { registrationToken: token }), /M_FORBIDDEN/);

  const list = hearth(['token', 'list', '--json', '--data-dir', ts.dataDir]);
  assert.equal(list.status, 0, list.stderr);
  const [info] = JSON.parse(list.stdout);
  assert.equal(info.token, token);
  assert.equal(info.uses_allowed, 1);
  assert.equal(info.completed, 1);
  assert.equal(info.valid, false);
  assert.ok(info.expiry_time > Date.now() + 6 * 86_400_000);
  assert.match(hearth(['token', 'list', '--data-dir', ts.dataDir]).stdout, /1\/1 used.*no longer valid/);

  const named = hearth(['token', 'create', '--token', 'family-2030', '--data-dir', ts.dataDir]);
  assert.equal(named.stdout.trim(), 'family-2030');
  const dup = hearth(['token', 'create', '--token', 'family-2030', '--data-dir', ts.dataDir]);
  assert.equal(dup.status, 1);
  assert.match(dup.stderr, /already exists/);
  assert.equal(hearth(['token', 'delete', 'family-2030', '--data-dir', ts.dataDir]).status, 0);
  await assert.rejects(registerUser(ts.baseUrl, 'late', 'pw', { registrationToken: 'family-2030' }), /M_FORBIDDEN/);
});

test('token usage errors exit 2', () => {
  for (const args of [['token', 'create', '--uses', '0'], ['token', 'delete']]) {
    const r = hearth([...args, '--data-dir', ts.dataDir]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.equal(parseExpiry('2d', now), now + 2 * 86_400_000);
  assert.equal(parseExpiry('2030-02-01', now), Date.parse('2030-02-01'));
  assert.throws(() => parseExpiry('2029-01-01', now), /in the past/);
});
