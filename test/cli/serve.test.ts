import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hearth, hearthServe } from '../helpers/cli.ts';
import { tempDir } from '../helpers/server.ts';

function portOf(output: string): number {
  const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
  assert.ok(m, `no listen address in output:\n${output}`);
  return Number(m[1]);
}

test('serve answers /health and /versions; user create works while it runs', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const s = await hearthServe(['--data-dir', dir, '--listen', '127.0.0.1:0', '--server-name', 'example.org']);
  try {
    const port = portOf(s.output());
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    assert.equal(health.ok, true);
    assert.equal(health.db, 'ok');
    assert.equal(health.server_name, 'example.org');
    const versions = await fetch(`http://127.0.0.1:${port}/_matrix/client/versions`);
    assert.equal(versions.status, 200);
    assert.ok(Array.isArray((await versions.json()).versions));

    const r = hearth(['user', 'create', 'carol', '--password', 'pw-carol', '--data-dir', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /@carol:example\.org/);
    // Access tokens and passwords never appear in the request log.
    await fetch(`http://127.0.0.1:${port}/_matrix/client/versions?access_token=SECRET123`);
  } finally {
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  }
  assert.doesNotMatch(s.output(), /SECRET123/);
  assert.match(s.output(), /access_token=\[redacted\]/);
});

test('the server name is permanent: a different one is refused', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const s = await hearthServe(['--data-dir', dir, '--listen', '127.0.0.1:0', '--server-name', 'one.example']);
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  const r = hearth(['serve', '--data-dir', dir, '--listen', '127.0.0.1:0', '--server-name', 'two.example']);
  assert.equal(r.status, 1);
  assert.match(r.stderr.trim(), /belongs to server name 'one\.example'/);
});

test('SIGTERM: stops accepting, finishes in-flight requests, closes the db, exits 0 quickly', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const s = await hearthServe(['--data-dir', dir, '--listen', '127.0.0.1:0', '--server-name', 'example.org']);
  const port = portOf(s.output());
  // An idle keep-alive connection must not hold the shutdown open.
  const agent = new http.Agent({ keepAlive: true });
  await new Promise<void>((resolve, reject) =>
    http.get({ host: '127.0.0.1', port, path: '/health', agent }, (res) => res.resume().on('end', resolve)).on('error', reject),
  );
  // A request whose body is still arriving is in flight while the signal lands.
  const inflight = new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/health', method: 'GET', headers: { 'content-length': '5' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.write('ab');
    setTimeout(() => req.end('cde'), 300);
  });
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 100));
  s.child.kill('SIGTERM');
  assert.equal(await inflight, 200);
  assert.equal(await s.exited, 0);
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < 10_000, `shutdown took ${elapsed} ms`);
  agent.destroy();
  assert.match(s.output(), /hearth stopped/);
  // The WAL was checkpointed and truncated on a clean close.
  const wal = join(dir, 'hearth.db-wal');
  assert.ok(!existsSync(wal) || statSync(wal).size === 0);
  // New connections are refused after shutdown.
  await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
});
