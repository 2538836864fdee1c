/**
 * The wizard's JSON API without a certificate authority: claiming with the setup token (and
 * being refused without it), the admin and server-name steps, state that survives a "second
 * browser", the well-known files and our signed server keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer } from '../helpers/server.ts';
import { readServerKeys } from '../../server/protocol/signing.ts';
import { verifyPassword } from '../../server/services/passwords.ts';

async function call(base: string, method: string, path: string, body?: unknown, token?: string) {
  const r = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { 'x-hearth-setup-token': token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, json: text ? JSON.parse(text) : null };
}

test('setup wizard API: token claim, steps, resume, well-known and keys', async (t) => {
  const srv = await startTestServer({ server_name: null, public_ip_url: 'off' });
  t.after(() => srv.cleanup());
  const base = srv.baseUrl;

  // The token: generated at first start, a file only the service user can read.
  const tokenFile = join(srv.dataDir, 'setup-token');
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
  const token = readFileSync(tokenFile, 'utf8').trim();
  assert.match(token, /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);

  const status = await call(base, 'GET', '/_hearth/api/status');
  assert.equal(status.json.setup, 'open');

  // Refusals: no token, wrong token, then too many wrong tokens.
  const none = await call(base, 'POST', '/_hearth/api/setup/claim', {});
  assert.equal(none.status, 401);
  const wrong = await call(base, 'POST', '/_hearth/api/setup/claim', {}, 'aaaa-bbbb-cccc-dddd');
  assert.equal(wrong.status, 403);
  assert.match(wrong.json.error, /setup token is not right/);
  assert.equal((await call(base, 'GET', '/_hearth/api/setup/state', undefined, 'nope')).status, 403);
  let limited = 0;
  for (let i = 0; i < 12; i++) if ((await call(base, 'POST', '/_hearth/api/setup/claim', {}, `wrong-${i}`)).status === 429) limited++;
  assert.ok(limited > 0, 'repeated wrong tokens are rate-limited');

  // After a while the client may try again; the right token (typed in capitals, no dashes) works.
  const realNow = srv.server.services.now;
  srv.server.services.now = () => realNow() + 120_000;
  const claim = await call(base, 'POST', '/_hearth/api/setup/claim', {}, token.replace(/-/g, '').toUpperCase());
  assert.equal(claim.status, 200);
  assert.equal(claim.json.state.step, 'welcome');

  // Steps are gated: no skipping ahead.
  assert.equal((await call(base, 'PUT', '/_hearth/api/setup/step', { step: 'certificate' }, token)).status, 409);

  let st = await call(base, 'POST', '/_hearth/api/setup/mode', { mode: 'new' }, token);
  assert.equal(st.json.step, 'admin');

  const weak = await call(base, 'POST', '/_hearth/api/setup/admin', { localpart: 'Admin', password: 'short' }, token);
  assert.equal(weak.status, 400);
  assert.match(weak.json.error, /at least 8/);
  st = await call(base, 'POST', '/_hearth/api/setup/admin', { localpart: 'Admin', password: 'correct horse battery' }, token);
  assert.equal(st.status, 200);
  assert.equal(st.json.admin.localpart, 'admin');
  assert.equal(st.json.admin.created, false, 'no account before the server name is known');

  // DNS check of a name that does not resolve: a clear message, not a crash.
  const check = await call(base, 'POST', '/_hearth/api/setup/names/check', { server_name: 'example.invalid', host: 'matrix.example.invalid' }, token);
  assert.equal(check.status, 200);
  assert.equal(check.json.verdict, 'error');
  assert.match(check.json.messages[0].text, /does not resolve to any address/);

  const badName = await call(base, 'POST', '/_hearth/api/setup/names', { server_name: 'http://x', host: '' }, token);
  assert.equal(badName.status, 400);

  st = await call(base, 'POST', '/_hearth/api/setup/names', { server_name: 'Example.test', host: 'matrix.example.test' }, token);
  assert.equal(st.status, 200);
  assert.equal(st.json.names.serverName, 'example.test');
  assert.equal(st.json.admin.userId, '@admin:example.test');
  assert.equal(st.json.step, 'certificate');
  assert.equal(st.json.names.locked, true);
  assert.equal(st.json.delegation.needed, true);
  assert.match(st.json.delegation.snippets.caddy, /respond \/\.well-known\/matrix\/server/);

  const user = await srv.server.services.users.getByUserId('@admin:example.test');
  assert.equal(user?.is_admin, 1);
  assert.ok(await verifyPassword('correct horse battery', user?.password_hash));

  // A second browser (same token) resumes at the same step; a reload too.
  const again = await call(base, 'GET', '/_hearth/api/setup/state', undefined, token);
  assert.equal(again.json.step, 'certificate');
  assert.equal((await call(base, 'PUT', '/_hearth/api/setup/step', { step: 'delegation' }, token)).status, 409, 'no certificate yet');
  assert.equal((await call(base, 'PUT', '/_hearth/api/setup/step', { step: 'names' }, token)).json.step, 'names', 'Back works');

  // The server name is permanent.
  const rename = await call(base, 'POST', '/_hearth/api/setup/names', { server_name: 'other.test', host: 'matrix.other.test' }, token);
  assert.equal(rename.status, 409);

  // .well-known files: right JSON, JSON content type, CORS on both.
  for (const [path, want] of [
    ['/.well-known/matrix/server', { 'm.server': 'matrix.example.test:443' }],
    ['/.well-known/matrix/client', { 'm.homeserver': { base_url: 'https://matrix.example.test' } }],
  ] as const) {
    const r = await call(base, 'GET', path);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, want);
    assert.match(r.headers.get('content-type')!, /^application\/json/);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
  }

  // Our signing key, published and self-signed.
  const keys = await call(base, 'GET', '/_matrix/key/v2/server');
  assert.equal(keys.status, 200);
  const parsed = readServerKeys(keys.json, 'example.test', Date.now());
  assert.ok(parsed instanceof Map && parsed.size === 1, String(parsed));

  // The UI is served for the wizard's paths (or a "not built" page), with strict headers.
  const page = await fetch(`${base}/setup/names`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy')!, /frame-ancestors 'none'/);

  // Restart: the same token, the same step.
  await srv.stop();
  const srv2 = await startTestServer({ server_name: null, public_ip_url: 'off' }, { dataDir: srv.dataDir });
  t.after(() => srv2.stop());
  assert.equal(readFileSync(tokenFile, 'utf8').trim(), token);
  const resumed = await call(srv2.baseUrl, 'GET', '/_hearth/api/setup/state', undefined, token);
  assert.equal(resumed.json.step, 'names');
  assert.equal(resumed.json.names.serverName, 'example.test');
  assert.ok(existsSync(tokenFile));
});
