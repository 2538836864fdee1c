/**
 * Certificates against a real ACME server (Pebble + challtestsrv): the whole wizard through
 * its API with HTTP-01, the HTTPS listener switching from the bootstrap certificate to the
 * issued one without a restart, delegation checks, the federation self-test, redirects after
 * setup and a renewal when 2/3 of the lifetime has passed; DNS-01 with a TXT record;
 * an unreachable ACME server and a host that does not point at us.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acmeRig, api, baseDomainServer, peekCert, until } from './acme-helpers.ts';
import { renewAt } from '../../server/appliance/acme/cert-manager.ts';

const BASE_IP = '127.31.7.1';

test('HTTP-01 through the wizard API, delegation, self-test, redirect, renewal', async (t) => {
  const rig = await acmeRig();
  t.after(() => rig.stop());
  const srv = await rig.start();
  const token = readFileSync(join(srv.dataDir, 'setup-token'), 'utf8').trim();
  const h = { 'x-hearth-setup-token': token };
  const base = srv.baseUrl;
  const host = `matrix.example.test:${rig.tlsPort}`;
  await rig.pebble.challtest.addA('example.test', [BASE_IP]);

  // Before any certificate: the HTTPS listener serves the self-signed bootstrap certificate.
  const boot = await peekCert(rig.tlsPort, 'matrix.example.test');
  assert.match(String(boot.cert.issuer.O ?? ''), /Hearth/);

  await api(base, 'POST', '/_hearth/api/setup/mode', { mode: 'new' }, h);
  await api(base, 'POST', '/_hearth/api/setup/admin', { localpart: 'admin', password: 'a long enough password' }, h);
  const check = await api(base, 'POST', '/_hearth/api/setup/names/check', { server_name: 'example.test', host }, h);
  assert.equal(check.json.verdict, 'ok', JSON.stringify(check.json.messages));
  assert.equal(check.json.reachable, true);
  let st = await api(base, 'POST', '/_hearth/api/setup/names', { server_name: 'example.test', host }, h);
  assert.equal(st.status, 200, JSON.stringify(st.json));

  st = await api(base, 'POST', '/_hearth/api/setup/certificate', { challenge: 'http-01', email: 'admin@example.test' }, h);
  assert.equal(st.status, 200, JSON.stringify(st.json));
  const done = await until(async () => {
    const s = (await api(base, 'GET', '/_hearth/api/setup/state', undefined, h)).json;
    return s.certificate.job?.state !== 'running' && s;
  }, 'certificate job');
  assert.equal(done.certificate.job.state, 'done', JSON.stringify(done.certificate.job.error));
  assert.deepEqual(done.certificate.managed.names, ['matrix.example.test']);

  // The running listener now serves Pebble's certificate, trusted through Pebble's root.
  const issued = await peekCert(rig.tlsPort, 'matrix.example.test', readFileSync(rig.pebble.rootFile, 'utf8'));
  assert.equal(issued.authorized, true, issued.error);
  assert.match(String(issued.cert.issuer.CN ?? ''), /Pebble/);
  assert.ok(existsSync(join(srv.dataDir, 'tls/key.pem')));
  const { statSync } = await import('node:fs');
  assert.equal(statSync(join(srv.dataDir, 'tls/key.pem')).mode & 0o777, 0o600);

  // Delegation: nothing on the base domain yet → a precise complaint.
  let deleg = await api(base, 'POST', '/_hearth/api/setup/delegation/check', {}, h);
  assert.equal(deleg.json.ok, false);
  assert.match(deleg.json.checks[0].messages[0].text, /Nothing answers HTTPS on example\.test port 443|is missing/);

  // The base domain's web server exists but lacks the files → "is missing (HTTP 404)".
  const files: Record<string, { body: string; headers?: Record<string, string> }> = {};
  const web = await baseDomainServer(rig.pebble, BASE_IP, 'example.test', files);
  t.after(() => web.close());
  deleg = await api(base, 'POST', '/_hearth/api/setup/delegation/check', {}, h);
  assert.match(deleg.json.checks[0].messages[0].text, /is missing \(HTTP 404\)/);

  // A wrong m.server value is called out exactly.
  files['/.well-known/matrix/server'] = { body: JSON.stringify({ 'm.server': 'matrix.example.test' }), headers: { 'content-type': 'application/json' } };
  deleg = await api(base, 'POST', '/_hearth/api/setup/delegation/check', {}, h);
  assert.match(deleg.json.checks[0].messages[0].text, new RegExp(`must be "matrix\\.example\\.test:${rig.tlsPort}"`));

  // Served as the wizard says → verified.
  files['/.well-known/matrix/server'] = { body: JSON.stringify(st.json.delegation.server), headers: { 'content-type': 'application/json' } };
  files['/.well-known/matrix/client'] = { body: JSON.stringify(st.json.delegation.client), headers: { 'content-type': 'application/json', 'access-control-allow-origin': '*' } };
  deleg = await api(base, 'POST', '/_hearth/api/setup/delegation/check', {}, h);
  assert.equal(deleg.json.ok, true, JSON.stringify(deleg.json.checks));

  // Federation self-test against ourselves: discovery → TLS → keys.
  const self = await api(base, 'POST', '/_hearth/api/setup/selftest', {}, h);
  assert.equal(self.json.ok, true, JSON.stringify(self.json.steps));
  assert.equal(self.json.resolved.via, 'well-known');
  assert.equal(self.json.resolved.port, rig.tlsPort);

  const fin = await api(base, 'POST', '/_hearth/api/setup/finish', {}, h);
  assert.equal(fin.status, 200, JSON.stringify(fin.json));
  assert.equal(fin.json.adminUserId, '@admin:example.test');
  assert.equal(existsSync(join(srv.dataDir, 'setup-token')), false);
  const { checkSetupToken } = await import('../../server/http/appliance/guards.ts');
  await assert.rejects(checkSetupToken(srv.server.services, token, '127.0.0.1'), /Setup is finished/);

  // Plain HTTP now redirects to the HTTPS address, except what must stay plain.
  const redir = await api(base, 'GET', '/_matrix/client/versions');
  assert.equal(redir.status, 301);
  assert.equal(redir.headers.get('location'), `https://matrix.example.test:${rig.tlsPort}/_matrix/client/versions`);
  assert.equal((await api(base, 'GET', '/.well-known/acme-challenge/nothing')).status, 404);
  assert.equal((await api(base, 'GET', '/health')).status, 200);

  // Renewal: once 2/3 of the lifetime has passed, the timer's check renews, and the running
  // listener serves the new certificate.
  const s = srv.server.services;
  const before = s.appliance.certs.managed()!;
  const realNow = s.now;
  assert.equal(await s.appliance.certs.checkRenewal(), null, 'not due yet');
  s.now = () => renewAt(before) + 1000;
  const job = await s.appliance.certs.checkRenewal();
  assert.ok(job, 'renewal started');
  const renewed = await s.appliance.certs.settled();
  assert.equal(renewed?.state, 'done', JSON.stringify(renewed?.error));
  s.now = realNow;
  const after = await peekCert(rig.tlsPort, 'matrix.example.test', readFileSync(rig.pebble.rootFile, 'utf8'));
  assert.notEqual(after.cert.serialNumber, issued.cert.serialNumber);
  assert.equal(after.authorized, true);
  const overview = await s.appliance.certs.overview();
  assert.ok(overview.lastRenewal, 'last renewal recorded');
  assert.equal(overview.managed?.warning, null);
  s.now = () => before.notAfter - 3 * 86400_000;
  assert.match((await s.appliance.certs.overview()).managed?.warning ?? '', /expires in \d+ days/);
  s.now = realNow;
});

test('DNS-01 with a TXT record; unreachable ACME server; a host that points elsewhere', async (t) => {
  const rig = await acmeRig();
  t.after(() => rig.stop());
  const srv = await rig.start({ acme_staging_directory_url: 'off' });
  const s = srv.server.services;

  s.appliance.certs.start({ domain: 'dns.example.test', challenge: 'dns-01', reason: 'cli' });
  const waiting = await until(async () => s.appliance.certs.job()?.status.dns, 'TXT record request');
  assert.equal(waiting.name, '_acme-challenge.dns.example.test');
  await rig.pebble.challtest.setTxt(waiting.name, waiting.value);
  const job = await s.appliance.certs.settled();
  assert.equal(job?.state, 'done', JSON.stringify(job?.error));
  const cert = await peekCert(rig.tlsPort, 'dns.example.test', readFileSync(rig.pebble.rootFile, 'utf8'));
  assert.equal(cert.authorized, true, cert.error);

  // A host that resolves somewhere else: the check says the request did not reach us.
  await rig.pebble.challtest.addA('elsewhere.example.test', ['192.0.2.10']);
  const token = readFileSync(join(srv.dataDir, 'setup-token'), 'utf8').trim();
  const check = await api(srv.baseUrl, 'POST', '/_hearth/api/setup/names/check', { server_name: 'example.test', host: 'elsewhere.example.test' }, { 'x-hearth-setup-token': token });
  assert.equal(check.json.verdict, 'error');
  assert.deepEqual(check.json.v4, ['192.0.2.10']);
  assert.match(check.json.messages.map((m: { text: string }) => m.text).join(' '), /did not reach this box/);

  // An ACME server that is not there: a clear message within seconds.
  await srv.stop();
  const srv2 = await rig.start({ acme_directory_url: 'https://127.0.0.1:1/dir', acme_staging_directory_url: 'off' });
  const t0 = Date.now();
  srv2.server.services.appliance.certs.start({ domain: 'x.example.test', challenge: 'http-01', reason: 'cli' });
  const failed = await srv2.server.services.appliance.certs.settled();
  assert.equal(failed?.state, 'failed');
  assert.match(failed!.error!.title, /Could not reach the certificate authority at https:\/\/127\.0\.0\.1:1\/dir/);
  assert.ok(Date.now() - t0 < 15_000);
});
