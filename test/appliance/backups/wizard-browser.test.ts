/**
 * The wizard's backup step and its "Restore from a backup" path, in Chromium, against real
 * Hearth servers and a real S3-compatible server over TLS:
 *  - box A: the Backups step sets up S3, hands out the recovery sheet, runs the first backup with
 *    a progress bar and a passed restore test; after setup the dashboard panel shows it;
 *  - box B (a fresh install, "other hardware"): Restore from a backup → the backups found (date,
 *    size, server name) → restore with progress → B restarts (as systemd would) on A's data: same
 *    server name, accounts, messages and signing key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startTestServer, tempDir, type TestServer } from '../../helpers/server.ts';
import { startS3rver } from '../../helpers/s3rver.ts';
import { api, loginUser, registerUser } from '../../helpers/clients.ts';
import { buildUi, launchChromium, screenshotter } from '../../e2e/wizard-helpers.ts';
import { sendText, syncView } from './fixture.ts';

const PASSWORD = 'the admin password 123';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** An operator certificate (tls_cert/tls_key), so the wizard's certificate step counts as done without an ACME server. */
function operatorCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'op.crt');
  const key = join(dir, 'op.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=matrix.example.test'], { stdio: 'pipe' });
  return { cert, key };
}

async function setupCall(base: string, token: string, method: string, path: string, body?: unknown) {
  const r = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', 'x-hearth-setup-token': token }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

test('wizard in Chromium: the Backups step backs up to S3; "Restore from a backup" brings the server to a fresh box', { timeout: 180_000 }, async (t) => {
  const uiDir = buildUi();
  const s3 = await startS3rver({ buckets: ['family-backups'] });
  t.after(() => s3.stop());
  const work = tempDir('hearth-wizard-bk-');
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const tls = operatorCert(work);
  const common = { ui_dir: uiDir, backup_ca_cert: s3.caFile, backup_s3_bucket_lookup: 'path' as const, public_ip_url: 'off', server_name: null };

  // Box A: through the wizard's first steps by API, up to Backups.
  const a = await startTestServer({ ...common, open_registration: true, rate_limits: false, tls_cert: tls.cert, tls_key: tls.key });
  t.after(() => a.cleanup());
  const tokenA = readFileSync(join(a.dataDir, 'setup-token'), 'utf8').trim();
  await setupCall(a.baseUrl, tokenA, 'POST', '/_hearth/api/setup/mode', { mode: 'new' });
  await setupCall(a.baseUrl, tokenA, 'POST', '/_hearth/api/setup/admin', { localpart: 'admin', password: PASSWORD });
  await setupCall(a.baseUrl, tokenA, 'POST', '/_hearth/api/setup/names', { server_name: 'example.test', host: 'matrix.example.test' });
  await setupCall(a.baseUrl, tokenA, 'PUT', '/_hearth/api/setup/step', { step: 'backups' });
  const dora = await registerUser(a.baseUrl, 'dora');
  const room = await api(a.baseUrl, dora.accessToken).post('/createRoom', { name: 'Garden' });
  await sendText(a.baseUrl, dora, room.body.room_id, 'tomatoes are ripe');

  const browser = await launchChromium([]);
  t.after(() => browser.close());
  const { page } = browser;
  const { shot } = screenshotter('backups-wizard');
  try {
    await page.goto(`${a.baseUrl}/setup`);
    await page.getByLabel('Setup token').fill(tokenA);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/setup\/backups$/);
    await page.getByLabel('Endpoint').fill(s3.endpoint);
    await page.getByLabel('Bucket').fill('family-backups');
    await page.getByLabel('Folder').fill('box-a');
    await page.getByLabel('Access key ID').fill(s3.accessKeyId);
    await page.getByLabel('Secret access key').fill(s3.secretAccessKey);
    await page.getByRole('button', { name: 'Suggest one' }).click();
    const passphrase = await page.getByLabel('Backup passphrase').inputValue();
    assert.match(passphrase, /^[a-z2-9]{5}(-[a-z2-9]{5}){5}$/);
    await shot(page, 'backups-form');
    await page.getByRole('button', { name: 'Save and test' }).click();
    await page.getByTestId('backup-saved').waitFor({ timeout: 60_000 });
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download the recovery sheet' }).click();
    const sheet = readFileSync(await (await download).path(), 'utf8');
    assert.match(sheet, new RegExp(passphrase));
    assert.match(sheet, /Bucket:\s+family-backups/);
    assert.match(sheet, /cannot be recovered/);
    await shot(page, 'backups-saved');
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.getByTestId('backup-done').waitFor({ timeout: 90_000 });
    assert.match((await page.getByTestId('backup-done').textContent())!, /Restore test: passed/);
    await shot(page, 'backups-first-backup');
    await page.getByTestId('next').click();
    await page.waitForURL(/\/setup\/done$/);
    // Finishing sends the browser to the HTTPS address (not served in this test): finish by API.
    await setupCall(a.baseUrl, tokenA, 'POST', '/_hearth/api/setup/finish');

    // The dashboard panel: last backup, drill result; "Back up now" again (setup now finished).
    await page.goto(`${a.baseUrl}/dashboard`);
    await page.getByLabel('User name or Matrix ID').fill('admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Backups' }).waitFor();
    await page.getByTestId('drill').getByText('passed').waitFor();
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.getByTestId('backup-progress').waitFor();
    await shot(page, 'dashboard-backup-running');
    await page.getByRole('button', { name: 'Back up now' }).waitFor({ timeout: 90_000 });
    await shot(page, 'dashboard-backups');
    const status = await a.server.services.backups.status();
    assert.equal((status.history as Array<{ kind: string; status: string }>).filter((r) => r.kind === 'backup' && r.status === 'ok').length, 2);
    const before = await syncView(a.baseUrl, dora);
    const keysA = (await api(a.baseUrl).get('/_matrix/key/v2/server')).body.verify_keys;

    // Box B: a fresh install on its own fixed port; its "systemd" restarts it when a restore is staged.
    const port = await freePort();
    const dirB = join(work, 'box-b');
    let b: TestServer = await startTestServer({ ...common, listen: [`127.0.0.1:${port}`] }, { dataDir: dirB });
    let restarted: Promise<void> | null = null;
    const armRestart = (srv: TestServer) => {
      srv.server.services.backups.restore.onStaged = () => {
        restarted = (async () => {
          await srv.stop();
          b = await startTestServer({ ...common, listen: [`127.0.0.1:${port}`] }, { dataDir: dirB });
        })();
      };
    };
    armRestart(b);
    t.after(() => b.cleanup());
    const tokenB = readFileSync(join(dirB, 'setup-token'), 'utf8').trim();
    await page.goto(`http://127.0.0.1:${port}/setup`);
    await page.getByLabel('Setup token').fill(tokenB);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: /Restore from a backup/ }).click();
    await page.waitForURL(/\/setup\/restore$/);
    await page.getByLabel('Endpoint').fill(s3.endpoint);
    await page.getByLabel('Bucket').fill('family-backups');
    await page.getByLabel('Folder').fill('box-a');
    await page.getByLabel('Access key ID').fill(s3.accessKeyId);
    await page.getByLabel('Secret access key').fill(s3.secretAccessKey);
    // A wrong passphrase first: a clear message.
    await page.getByLabel('Backup passphrase').fill('not-the-passphrase');
    await page.getByRole('button', { name: 'Find backups' }).click();
    await page.getByText(/Wrong passphrase: it does not open the backup/).waitFor();
    await shot(page, 'restore-wrong-passphrase');
    await page.getByLabel('Backup passphrase').fill(passphrase);
    await page.getByRole('button', { name: 'Find backups' }).click();
    const table = page.getByTestId('snapshots');
    await table.waitFor();
    // Retention keeps one backup per day: the afternoon's second backup replaced the first.
    assert.equal(await table.locator('tbody tr').count(), 1);
    assert.match((await table.textContent())!, /example\.test/);
    await shot(page, 'restore-snapshots');
    await page.getByRole('button', { name: 'Restore this backup' }).click();
    await page.getByTestId('restore-done').waitFor({ timeout: 90_000 });
    const done = (await page.getByTestId('restore-done').textContent())!;
    assert.match(done, /Restored example\.test from the backup taken/);
    assert.match(done, /after that moment are not in it/);
    await page.getByTestId('restore-up').waitFor({ timeout: 60_000 });
    await shot(page, 'restore-done');
    await restarted;

    // Box B is box A now: name, accounts, messages, signing key.
    assert.equal(b.server.services.config.server_name, 'example.test');
    const login = await loginUser(b.baseUrl, 'dora', dora.password);
    assert.equal(login.status, 200);
    assert.deepEqual(await syncView(b.baseUrl, dora), before);
    assert.deepEqual((await api(b.baseUrl).get('/_matrix/key/v2/server')).body.verify_keys, keysA);
    const st = await (await fetch(`${b.baseUrl}/_hearth/api/status`)).json();
    assert.equal(st.setup, 'complete');
  } catch (e) {
    await shot(page, 'FAILED');
    throw e;
  }
});
