/**
 * `hearth serve` starts with the core services and loads route groups and the other services on
 * first use (issue 2: start time, idle memory). These tests start servers the way `hearth serve`
 * does (lazy) and check that routing behaves as before — 404 M_UNRECOGNIZED, 405 for a known path
 * with a wrong method, in every lazily loaded group — and that background work still loads what
 * it needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../server/config/loader.ts';
import type { Config } from '../../server/config/schema.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { createLogger } from '../../server/logging.ts';
import { tempDir, startTestServer } from '../helpers/server.ts';
import { armLazyStart, nextBackupDue } from '../../server/services/lazy-start.ts';
import { savePassphrase } from '../../server/appliance/backups/secrets.ts';
import { createBootstrapCert } from '../../server/appliance/tls/bootstrap-cert.ts';
import { managedPaths, writeCertPair } from '../../server/appliance/tls/cert-files.ts';

async function startLazy(overrides: Partial<Config> = {}, dataDir = tempDir()): Promise<{ server: RunningServer; baseUrl: string; done: () => Promise<void> }> {
  const { config } = await loadConfig({
    flags: { data_dir: dataDir, listen: ['127.0.0.1:0'], server_name: 'localhost', ...overrides },
    env: {},
  });
  const server = await startServer(config, { log: createLogger('silent'), lazy: true });
  const baseUrl = `http://127.0.0.1:${server.listeners.all[0]!.address().port}`;
  return {
    server,
    baseUrl,
    done: async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function req(baseUrl: string, method: string, path: string): Promise<{ status: number; json: Record<string, unknown> | null }> {
  const r = await fetch(baseUrl + path, { method });
  const text = await r.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: r.status, json };
}

test('lazy start: /versions, /health and preflights need only the core; other groups load on first use with the same 404/405 rules', async (t) => {
  const srv = await startLazy({ open_registration: true, rate_limits: false });
  t.after(() => srv.done());
  const s = srv.server.services;
  assert.deepEqual(s.loadedParts(), []);

  assert.equal((await req(srv.baseUrl, 'GET', '/_matrix/client/versions')).status, 200);
  // Routing is case-insensitive and ignores a trailing slash, as @koa/router's.
  assert.equal((await req(srv.baseUrl, 'GET', '/_MATRIX/client/versions/')).status, 200);
  const health = await req(srv.baseUrl, 'GET', '/health');
  assert.equal(health.status, 200);
  assert.equal(health.json?.ok, true);
  assert.equal((await req(srv.baseUrl, 'OPTIONS', '/_matrix/client/v3/sync')).status, 204);
  assert.equal((await req(srv.baseUrl, 'GET', '/.well-known/matrix/client')).status, 200);
  const wrongCore = await req(srv.baseUrl, 'POST', '/_matrix/client/versions');
  assert.equal(wrongCore.status, 405);
  assert.equal(wrongCore.json?.errcode, 'M_UNRECOGNIZED');
  // The UI and unknown non-Matrix paths need nothing beyond the core either.
  assert.equal((await req(srv.baseUrl, 'GET', '/')).status, 200);
  assert.equal((await req(srv.baseUrl, 'GET', '/no-such-page.txt')).status, 404);
  // The reachability probe's nonces live in the appliance's network part, loaded by this group.
  const probe = await req(srv.baseUrl, 'GET', '/_hearth/probe/0123456789abcdef');
  assert.equal(probe.status, 404);
  assert.equal(probe.json?.errcode, 'M_NOT_FOUND');
  const unknownMatrix = await req(srv.baseUrl, 'GET', '/_matrix/nothing/here');
  assert.equal(unknownMatrix.status, 404);
  assert.equal(unknownMatrix.json?.errcode, 'M_UNRECOGNIZED');
  assert.deepEqual(s.loadedParts(), [], 'nothing beyond the core was loaded');

  // Client-server group: unknown endpoint → 404 M_UNRECOGNIZED, known path + wrong method → 405.
  const unknown = await req(srv.baseUrl, 'GET', '/_matrix/client/v3/no_such_endpoint');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json?.errcode, 'M_UNRECOGNIZED');
  assert.ok(s.loadedParts().includes('full'), 'the client group loaded every service');
  const wrong = await req(srv.baseUrl, 'DELETE', '/_matrix/client/v3/login');
  assert.equal(wrong.status, 405);
  assert.equal(wrong.json?.errcode, 'M_UNRECOGNIZED');
  const flows = await req(srv.baseUrl, 'GET', '/_matrix/client/v3/login');
  assert.equal(flows.status, 200);
  assert.ok(Array.isArray(flows.json?.flows));
  const reg = await fetch(`${srv.baseUrl}/_matrix/client/v3/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'correct horse battery', auth: { type: 'm.login.dummy' } }),
  });
  assert.equal(reg.status, 200);
  // A route of the federation module that lives under /_matrix/client is still served there.
  const hierarchy = await req(srv.baseUrl, 'GET', '/_matrix/client/v1/rooms/!x:localhost/hierarchy');
  assert.equal(hierarchy.status, 401, 'needs a token: the route exists');

  // Federation, media and the appliance API: each group answers, 404s and 405s as before.
  assert.equal((await req(srv.baseUrl, 'GET', '/_matrix/federation/v1/version')).status, 200);
  assert.equal((await req(srv.baseUrl, 'PUT', '/_matrix/federation/v1/version')).status, 405);
  assert.equal((await req(srv.baseUrl, 'GET', '/_matrix/key/v2/server')).status, 200);
  assert.equal((await req(srv.baseUrl, 'GET', '/_matrix/federation/v1/nope')).json?.errcode, 'M_UNRECOGNIZED');
  const mediaWrong = await req(srv.baseUrl, 'GET', '/_matrix/media/v3/upload');
  assert.equal(mediaWrong.status, 405);
  assert.equal(mediaWrong.json?.errcode, 'M_UNRECOGNIZED');
  assert.equal((await req(srv.baseUrl, 'GET', '/_matrix/media/v3/nothing')).status, 404);
  assert.equal((await req(srv.baseUrl, 'GET', '/_hearth/api/status')).status, 200);
});

test('lazy start: concurrent first requests share one load of the services', async (t) => {
  const srv = await startLazy();
  t.after(() => srv.done());
  const answers = await Promise.all(
    ['/_matrix/client/v3/login', '/_matrix/federation/v1/version', '/_matrix/client/v3/login', '/_hearth/api/status'].map((p) => req(srv.baseUrl, 'GET', p)),
  );
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 200],
  );
  assert.deepEqual([...srv.server.services.loadedParts()].sort(), ['backups', 'full', 'media']);
});

test('lazy start: federation traffic queued by the last run loads the federation sender at start', async (t) => {
  const dataDir = tempDir();
  const first = await startTestServer({}, { dataDir });
  await first.server.services.db.write(async (tx) => {
    await tx.run("INSERT INTO federation_outbox (destination, kind, json, created_ts) VALUES ('remote.invalid', 'edu', '{}', 1)");
  });
  await first.stop();
  const srv = await startLazy({}, dataDir);
  t.after(() => srv.done());
  const s = srv.server.services;
  for (let i = 0; i < 200 && !s.loadedParts().includes('full'); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(s.loadedParts().includes('full'));
  await s.load('full');
  assert.ok(s.federation.sender, 'the federation service runs');
});

test('lazy start: media housekeeping loads the media service only when it has something to delete', async (t) => {
  const srv = await startLazy();
  t.after(() => srv.done());
  const s = srv.server.services;
  // Nothing to delete: the check runs and the media code stays unloaded.
  armLazyStart(s, { mediaFirstCheckMs: 1 });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(s.loadedParts().includes('media'), false);
  await s.db.write(async (tx) => {
    await tx.run("INSERT INTO url_previews (url, fetched_ts, expires_ts, og_json) VALUES ('https://example.invalid/', 0, 1, '{}')");
  });
  armLazyStart(s, { mediaFirstCheckMs: 1 });
  for (let i = 0; i < 200 && !s.loadedParts().includes('media'); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(s.loadedParts().includes('media'));
  assert.equal(s.loadedParts().includes('full'), false, 'only the media part');
});

test('lazy start: the backup timer computes the same next run as the backup service', async (t) => {
  const srv = await startTestServer({ backup_repo: '/nonexistent/hearth-backups', backup_schedule: '03:30' });
  t.after(() => srv.cleanup());
  const s = srv.server.services;
  assert.equal(await nextBackupDue(s), null, 'no passphrase: not set up');
  savePassphrase(srv.dataDir, 'correct horse battery staple');
  await s.backups.reschedule();
  const status = await s.backups.status();
  assert.equal(typeof status.next_run_ts, 'number');
  assert.equal(await nextBackupDue(s), status.next_run_ts);
});

test('lazy start: the signing key is created at first start (0600), before any request, and kept on the next start', async (t) => {
  const dataDir = tempDir();
  const first = await startLazy({}, dataDir);
  let firstStopped = false;
  t.after(async () => {
    if (!firstStopped) await first.done();
  });
  const keyFile = join(dataDir, 'signing.key');
  assert.ok(existsSync(keyFile), 'signing.key exists right after the first start');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const key = readFileSync(keyFile, 'utf8');
  await first.server.stop();
  firstStopped = true;
  const second = await startLazy({}, dataDir);
  t.after(() => second.done());
  assert.equal(readFileSync(keyFile, 'utf8'), key, 'the same key after a restart');
});

test('lazy start: certificate renewal is checked before the ACME code is loaded, and loads it when due', async (t) => {
  // A managed certificate issued an hour ago, valid for ~15 more minutes: past 2/3 of its life.
  const dataDir = tempDir();
  const due = createBootstrapCert({ dns: ['renew.example.test'], ips: [] }, 0.01);
  writeCertPair(managedPaths(dataDir), due.certPem, due.keyPem);
  // ACME unreachable (discard port) and no staging dry run: the renewal job fails at once.
  const srv = await startLazy({ acme_directory_url: 'http://127.0.0.1:9/directory', acme_staging_directory_url: 'off' }, dataDir);
  t.after(() => srv.done());
  const appliance = srv.server.services.appliance;
  assert.equal(await appliance.checkRenewalBeforeLoad(), true);
  const job = appliance.certs.job();
  assert.equal(job?.reason, 'renewal');
  assert.equal(job?.domain, 'renew.example.test');
  assert.equal((await appliance.certs.settled())?.state, 'failed');

  // Not due (a 90-day certificate issued an hour ago): nothing is loaded or started.
  const fresh = tempDir();
  const ok = createBootstrapCert({ dns: ['fresh.example.test'], ips: [] }, 90);
  writeCertPair(managedPaths(fresh), ok.certPem, ok.keyPem);
  const srv2 = await startLazy({}, fresh);
  t.after(() => srv2.done());
  assert.equal(await srv2.server.services.appliance.checkRenewalBeforeLoad(), false);
});
