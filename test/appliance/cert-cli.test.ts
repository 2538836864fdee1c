/**
 * `hearth cert obtain` through a running server's plain-HTTP listener (the running HTTPS
 * listener then serves the new certificate without a restart), and on its own when no server
 * runs; `hearth cert status`; `hearth setup status|token`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { acmeRig, peekCert, until } from './acme-helpers.ts';

const cli = fileURLToPath(new URL('../../server/cli.ts', import.meta.url));

/** Runs the CLI without blocking this process (an in-process server must keep answering). */
function hearth(args: string[], env: Record<string, string>): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (status) => resolve({ status, out }));
  });
}

test('hearth cert obtain / status and hearth setup from the command line', async (t) => {
  const rig = await acmeRig();
  t.after(() => rig.stop());
  const srv = await rig.start({ acme_staging_directory_url: 'off' });
  const env = {
    HEARTH_LISTEN: `127.0.0.1:${rig.httpPort}`,
    HEARTH_ACME_CA_FILE: rig.pebble.apiCaFile,
    HEARTH_DNS_SERVERS: rig.pebble.dnsServer,
    HEARTH_ACME_HTTP_PORT: String(rig.httpPort),
    HEARTH_PUBLIC_IP_URL: 'off',
  };
  const root = readFileSync(rig.pebble.rootFile, 'utf8');

  const token = await hearth(['setup', 'token', '--data-dir', srv.dataDir], env);
  assert.equal(token.out.trim(), readFileSync(join(srv.dataDir, 'setup-token'), 'utf8').trim());

  const r = await hearth(['cert', 'obtain', '--domain', 'cli.example.test', '--data-dir', srv.dataDir, '--acme-directory', rig.pebble.directoryUrl], env);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /Using the running Hearth/);
  // The running server notices the new files and serves them without a restart.
  const served = await until(async () => {
    const c = await peekCert(rig.tlsPort, 'cli.example.test', root);
    return c.authorized && c;
  }, 'the new certificate on the running listener', 10_000);
  assert.match(String(served.cert.issuer.CN), /Pebble/);

  await srv.stop();
  const own = await hearth(['cert', 'obtain', '--domain', 'cli2.example.test', '--data-dir', srv.dataDir, '--acme-directory', rig.pebble.directoryUrl], env);
  assert.equal(own.status, 0, own.out);
  assert.match(own.out, /No Hearth is running: answering the certificate authority/);

  const status = await hearth(['cert', 'status', '--data-dir', srv.dataDir], env);
  assert.equal(status.status, 0, status.out);
  assert.match(status.out, /Certificate for cli2\.example\.test/);
  assert.match(status.out, /renews at:/);
  assert.match(status.out, /cli +ok/);

  const bad = await hearth(['cert', 'obtain', '--domain', 'x.example.test', '--data-dir', srv.dataDir, '--acme-directory', 'https://127.0.0.1:1/dir'], env);
  assert.equal(bad.status, 1);
  assert.match(bad.out, /Could not reach the certificate authority/);

  const setup = await hearth(['setup', 'admin', 'boss', '--password', 'a very long password', '--data-dir', srv.dataDir], env);
  assert.equal(setup.status, 0, setup.out);
  assert.match(setup.out, /boss \(created once the server name is set\)/);
  const names = await hearth(['setup', 'names', '--server-name', 'cli.test', '--host', 'matrix.cli.test', '--data-dir', srv.dataDir], env);
  assert.equal(names.status, 0, names.out);
  assert.match(names.out, /admin: +@boss:cli\.test/);
});
