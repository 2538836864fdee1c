/**
 * The wizard's other paths in Chromium: a host name that does not point at this box, a
 * certificate by DNS-01 (the TXT record the wizard shows, set in challtestsrv), and an ACME
 * server that cannot be reached — each with the message a person sees. Screenshots in
 * test-artifacts/wizard-errors/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acmeRig, api, peekCert } from '../appliance/acme-helpers.ts';
import { buildUi, launchChromium, screenshotter } from './wizard-helpers.ts';

const PASSWORD = 'another long wizard password';

test('wizard in Chromium: DNS pointing elsewhere, DNS-01 certificate, unreachable ACME server', { timeout: 180_000 }, async (t) => {
  const uiDir = buildUi();
  const rig = await acmeRig();
  t.after(() => rig.stop());
  await rig.pebble.challtest.addA('elsewhere.example.test', ['192.0.2.10']);
  const { shot } = screenshotter('wizard-errors');
  const browser = await launchChromium(['MAP matrix.example.test 127.0.0.1']);
  t.after(() => browser.close());
  const { page } = browser;
  const textbox = (name: string) => page.getByRole('textbox', { name, exact: true });

  const srv = await rig.start({ ui_dir: uiDir, acme_staging_directory_url: 'off' });
  const token = readFileSync(join(srv.dataDir, 'setup-token'), 'utf8').trim();
  try {
    // The token can also arrive in the URL fragment (how the wizard moves to its HTTPS address).
    await page.goto(`http://127.0.0.1:${rig.httpPort}/setup#token=${token}`);
    await page.getByRole('button', { name: /Set up a new server/ }).click();
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Password again').fill(PASSWORD);
    await page.getByRole('button', { name: 'Continue' }).click();

    // A host whose A record points somewhere else: the check says so in plain words.
    await textbox('Server name').fill('example.test');
    await textbox('Host name').fill('elsewhere.example.test');
    await page.getByRole('button', { name: 'Check DNS' }).click();
    await page.getByText('did not reach this box').waitFor();
    assert.match(await page.getByTestId('dns-check').innerText(), /192\.0\.2\.10/);
    await shot(page, 'dns-points-elsewhere');

    // DNS-01: the wizard shows the TXT record and continues by itself once it is visible.
    await textbox('Host name').fill(`matrix.example.test:${rig.tlsPort}`);
    await page.getByRole('button', { name: 'Save and continue' }).click();
    await page.waitForURL(/\/setup\/certificate$/);
    await page.getByLabel(/DNS record/).check();
    await page.getByRole('button', { name: 'Get the certificate' }).click();
    await page.getByTestId('txt-value').waitFor();
    await shot(page, 'dns-01-txt-record');
    const name = (await page.getByTestId('txt-name').innerText()).trim();
    const value = (await page.getByTestId('txt-value').innerText()).trim();
    assert.equal(name, '_acme-challenge.matrix.example.test');
    await rig.pebble.challtest.setTxt(name, value);
    await page.getByTestId('cert-ok').waitFor({ timeout: 60_000 });
    await shot(page, 'dns-01-issued');
    const cert = await peekCert(rig.tlsPort, 'matrix.example.test', readFileSync(rig.pebble.rootFile, 'utf8'));
    assert.equal(cert.authorized, true, cert.error);
  } catch (e) {
    await shot(page, 'FAILED');
    throw e;
  }
  await srv.stop();

  // An ACME server that is not there: a clear message in the certificate step.
  const srv2 = await rig.start({ ui_dir: uiDir, acme_directory_url: 'https://127.0.0.1:1/directory', acme_staging_directory_url: 'off' });
  const token2 = readFileSync(join(srv2.dataDir, 'setup-token'), 'utf8').trim();
  const h = { 'x-hearth-setup-token': token2 };
  await api(srv2.baseUrl, 'POST', '/_hearth/api/setup/mode', { mode: 'new' }, h);
  await api(srv2.baseUrl, 'POST', '/_hearth/api/setup/admin', { localpart: 'admin', password: PASSWORD }, h);
  await api(srv2.baseUrl, 'POST', '/_hearth/api/setup/names', { server_name: 'example.test', host: 'matrix.example.test' }, h);
  try {
    await page.goto('about:blank'); // otherwise only the fragment changes and the old page stays
    await page.goto(`http://127.0.0.1:${rig.httpPort}/setup/certificate#token=${token2}`);
    await page.getByRole('button', { name: 'Get the certificate' }).click();
    await page.getByTestId('cert-error').waitFor();
    const text = await page.getByTestId('cert-error').innerText();
    assert.match(text, /Could not reach the certificate authority at https:\/\/127\.0\.0\.1:1\/directory/);
    assert.match(text, /connected to the internet/);
    await shot(page, 'acme-unreachable');
  } catch (e) {
    await shot(page, 'FAILED-2');
    throw e;
  }
});
