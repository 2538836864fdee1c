/**
 * The backup API and the schedule, on a server with a local-directory destination: only an
 * admin (or the setup token during setup) gets in; bad input and "not set up yet" are clear
 * errors; "Back up now" runs once at a time; the daily timer starts a backup at the chosen
 * minute; the wizard's restore path is refused once the server is in use or set up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, tempDir } from '../../helpers/server.ts';
import { loginUser, registerUser } from '../../helpers/clients.ts';
import { hearth } from '../../helpers/cli.ts';
import { hashPassword } from '../../../server/services/passwords.ts';

const PASSPHRASE = 'api test passphrase';

async function call(base: string, method: string, path: string, opts: { token?: string; setup?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.setup) headers['x-hearth-setup-token'] = opts.setup;
  const r = await fetch(`${base}/_hearth/api/backup${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

test('backup API: admin only, clear errors, one backup at a time, the daily timer, settings', { timeout: 120_000 }, async (t) => {
  const work = tempDir('hearth-bkapi-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  // Backups add listeners to the shutdown signal beside every other service's: no false
  // "memory leak" warning may reach the journal.
  const warnings: string[] = [];
  const onWarning = (w: Error) => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const srv = await startTestServer({ open_registration: true, rate_limits: false });
  t.after(() => srv.cleanup());
  const s = srv.server.services;
  await s.users.create({ userId: '@root:localhost', localpart: 'root', passwordHash: await hashPassword('root password 1'), admin: true, now: Date.now() });
  const admin = (await loginUser(srv.baseUrl, 'root', 'root password 1')).body.access_token as string;
  const user = await registerUser(srv.baseUrl, 'eve');

  assert.equal((await call(srv.baseUrl, 'GET', '/status')).status, 401);
  assert.equal((await call(srv.baseUrl, 'GET', '/status', { token: user.accessToken })).status, 403);
  const empty = await call(srv.baseUrl, 'GET', '/status', { token: admin });
  assert.equal(empty.status, 200);
  assert.equal(empty.json.configured, false);
  assert.equal(empty.json.next_run_ts, null);

  const notSetUp = await call(srv.baseUrl, 'POST', '/run', { token: admin });
  assert.equal(notSetUp.status, 409);
  assert.equal(notSetUp.json.hearth_error, 'NOT_CONFIGURED');
  const badDest = await call(srv.baseUrl, 'POST', '/destination', { token: admin, body: { type: 'local', path: 'relative/dir', passphrase: PASSPHRASE } });
  assert.equal(badDest.status, 400);
  assert.match(badDest.json.error, /absolute path/);
  const noDisk = await call(srv.baseUrl, 'POST', '/destination', { token: admin, body: { type: 'local', path: join(work, 'not-mounted', 'hearth'), passphrase: PASSPHRASE } });
  assert.equal(noDisk.status, 400);
  assert.match(noDisk.json.error, /does not exist \(is the disk plugged in and mounted\?\)/);
  mkdirSync(join(work, 'usb'));
  const repo = join(work, 'usb', 'hearth');
  const weak = await call(srv.baseUrl, 'POST', '/destination', { token: admin, body: { type: 'local', path: repo, passphrase: 'short' } });
  assert.equal(weak.status, 400);
  assert.match(weak.json.error, /at least 12 characters/);

  const suggested = await call(srv.baseUrl, 'GET', '/passphrase', { token: admin });
  assert.match(suggested.json.passphrase, /^[a-z2-9]{5}(-[a-z2-9]{5}){5}$/);
  const ok = await call(srv.baseUrl, 'POST', '/destination', { token: admin, body: { type: 'local', path: repo, passphrase: PASSPHRASE, schedule: '04:15', retention: { daily: 3 } } });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  assert.equal(ok.json.created, true);
  assert.match(ok.json.recovery_sheet, new RegExp(`${PASSPHRASE}[\\s\\S]*cannot be recovered`));
  assert.equal(ok.json.status.schedule, '04:15');
  assert.deepEqual(ok.json.status.retention, { daily: 3, weekly: 4, monthly: 6 });
  // The passphrase is a file only the service user can read; never in the database or config.
  assert.equal(statSync(join(srv.dataDir, 'secrets', 'backup-passphrase')).mode & 0o777, 0o600);
  assert.equal(statSync(join(srv.dataDir, 'secrets')).mode & 0o777, 0o700);

  // "Back up now": accepted at once with a job to follow; a second start while it runs is refused.
  const run = await call(srv.baseUrl, 'POST', '/run', { token: admin });
  assert.equal(run.status, 202);
  assert.equal(run.json.job.finished, false);
  const again = await call(srv.baseUrl, 'POST', '/run', { token: admin });
  assert.equal(again.status, 409);
  assert.equal(again.json.hearth_error, 'BUSY');
  // Nor can the CLI run one meanwhile (the lock file is shared).
  const cli = hearth(['backup', 'now', '--data-dir', srv.dataDir]);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /a backup is already running \(process \d+/);
  let st = await call(srv.baseUrl, 'GET', '/status', { token: admin });
  while (!st.json.job.finished) {
    await new Promise((r) => setTimeout(r, 200));
    st = await call(srv.baseUrl, 'GET', '/status', { token: admin });
  }
  assert.equal(st.json.job.error, null);
  assert.equal(st.json.last_backup.status, 'ok');
  assert.equal(st.json.drill.status, 'ok');
  assert.ok(st.json.size_bytes > 0);
  const snaps = await call(srv.baseUrl, 'GET', '/snapshots', { token: admin });
  assert.equal(snaps.json.snapshots.length, 1);
  assert.equal(snaps.json.snapshots[0].server_name, 'localhost');

  const settings = await call(srv.baseUrl, 'POST', '/settings', { token: admin, body: { schedule: 'off' } });
  assert.equal(settings.json.next_run_ts, null);
  assert.equal((await call(srv.baseUrl, 'POST', '/settings', { token: admin, body: { schedule: '25:00' } })).status, 400);

  // The daily timer: schedule the next minute, move the clock to just before it, and wait.
  const real = Date.now();
  const slot = new Date(real + 120_000);
  slot.setSeconds(0, 0);
  const hhmm = `${String(slot.getHours()).padStart(2, '0')}:${String(slot.getMinutes()).padStart(2, '0')}`;
  const skew = slot.getTime() - 1500 - real;
  s.now = () => Date.now() + skew;
  const planned = await call(srv.baseUrl, 'POST', '/settings', { token: admin, body: { schedule: hhmm } });
  assert.equal(planned.json.next_run_ts, slot.getTime());
  let scheduled = null;
  for (let i = 0; i < 100 && !scheduled; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const h = (await call(srv.baseUrl, 'GET', '/status', { token: admin })).json;
    if (h.job?.finished && h.history.some((r: { trigger: string }) => r.trigger === 'schedule')) scheduled = h;
  }
  assert.ok(scheduled, 'the timer started a backup');
  assert.equal(scheduled.history.find((r: { trigger: string }) => r.trigger === 'schedule').status, 'ok');
  assert.equal(scheduled.next_run_ts, slot.getTime() + 24 * 3600_000, 'and planned the next for tomorrow');

  // The wizard's restore path needs the setup token, and never overwrites a server in use.
  assert.equal((await call(srv.baseUrl, 'POST', '/restore/snapshots', { token: admin, body: {} })).status, 401);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), []);
});

test('backup CLI: setup saves the destination, then `backup now` needs no flags', { timeout: 60_000 }, async (t) => {
  const work = tempDir('hearth-bkcli-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  writeFileSync(join(dataDir, 'config.yaml'), 'server_name: example.org\n');
  assert.equal(hearth(['user', 'create', 'frank', '--password', 'frank password', '--data-dir', dataDir]).status, 0);
  const pass = join(work, 'pass');
  writeFileSync(pass, 'cli setup passphrase\n');
  const bad = hearth(['backup', 'now', '--data-dir', dataDir]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--repo is required \(no backup destination is set up/);
  const setup = hearth(['backup', 'setup', '--repo', join(work, 'repo'), '--passphrase-file', pass, '--schedule', '02:00', '--data-dir', dataDir]);
  assert.equal(setup.status, 0, setup.stderr);
  assert.match(setup.stdout, /created a new backup repository/);
  const now = hearth(['backup', 'now', '--data-dir', dataDir, '--json']);
  assert.equal(now.status, 0, now.stderr);
  const outcome = JSON.parse(now.stdout);
  assert.equal(outcome.status, 'ok');
  assert.equal(outcome.drill.ok, true);
  const list = hearth(['backup', 'list', '--data-dir', dataDir]);
  assert.match(list.stdout, /example\.org/);
});
