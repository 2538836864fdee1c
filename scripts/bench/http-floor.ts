/**
 * HTTP floor benchmark (issue 4): what one client-server request costs the server when the
 * handler does almost nothing. 10 keep-alive clients call `GET /account/whoami` (auth + routing
 * + JSON response) and then `PUT /rooms/{id}/send` into one room, each for a fixed time; prints
 * req/s and the server's CPU per request (utime + stime deltas from /proc/PID/stat), and the
 * client's CPU per request (the bench client shares the machine's cores with the server).
 * First, the same PUT against a bare node:http server that only parses the JSON body and answers
 * with a small JSON object: the most any Node server can do here with this client (`--no-bare`
 * skips it).
 *
 * Usage:
 *   node --import tsx scripts/bench/http-floor.ts [--seconds 5] [--clients 10]
 *       [--root DIR]          (a checkout or copy whose bin/hearth.js to run; default this repo)
 *       [--node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"]  (flags for the server's node)
 *       [--only whoami|send] [--no-bare]
 *       [--tsx]               (run the TypeScript sources: readable names in profiles)
 *   node --import tsx scripts/bench/http-floor.ts --url http://127.0.0.1:8008 --pid PID
 *       (a running Hearth started with --open-registration --no-rate-limits)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argOpt, BenchClient, cpuMs, freePort, stopChild } from './lib.ts';

const args = process.argv.slice(2);
const opt = (name: string, def?: string) => argOpt(args, name, def);
const SECONDS = Number(opt('seconds', '5'));
const CLIENTS = Number(opt('clients', '10'));
const ROOT = opt('root', fileURLToPath(new URL('../..', import.meta.url)))!;
const ONLY = opt('only');

const client = new BenchClient(CLIENTS + 2);
const { ok } = client;

async function startHearth(): Promise<{ child: ChildProcess; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-http-floor-'));
  const port = await freePort();
  const nodeArgs = (opt('node-args') ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, ...(args.includes('--tsx') ? ['--import', 'tsx', join(ROOT, 'server/cli.ts')] : [join(ROOT, 'bin/hearth.js')]), 'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--server-name', 'bench.local', '--log-level', 'info', '--open-registration', '--no-rate-limits'],
    // The request log goes to /dev/null: its cost (serialising the line) stays in the measurement.
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  client.base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${client.base}/health`);
      if (r.ok) return { child, dataDir };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('hearth did not start');
}

async function run(name: string, pid: number, one: (client: number) => Promise<void>): Promise<void> {
  // Warm-up (JIT, caches), then the measured window.
  const warmEnd = Date.now() + 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    while (Date.now() < warmEnd) await one(c);
  }));
  let count = 0;
  const cpu0 = cpuMs(pid);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    while (Date.now() < end) {
      await one(c);
      count++;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuMs(pid) - cpu0;
  const own = process.cpuUsage(own0);
  console.log(
    `${name.padEnd(8)} ${(count / secs).toFixed(0).padStart(6)} req/s   server CPU ${(cpu / count).toFixed(3)} ms/req   ` +
      `client CPU ${((own.user + own.system) / 1000 / count).toFixed(3)} ms/req   (${count} requests, ${CLIENTS} clients, load ${loadavg()[0]!.toFixed(2)})`,
  );
}

/** A node:http server that reads and parses a JSON body and answers like /send: no Hearth at all. */
const BARE = `
let n = 0;
require('node:http').createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ event_id: '$' + ++n + 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' + Object.keys(body).length }));
  });
}).listen(Number(process.argv[1]), '127.0.0.1');`;

async function bare(): Promise<void> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', BARE, String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const saved = client.base;
  client.base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        await client.request('PUT', '/rooms/x/send/m.room.message/warm', null, {});
        break;
      } catch {
        if (i > 100) throw new Error('bare server did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    let txn = 0;
    await run('bare-put', child.pid!, async () => void (await client.request('PUT', `/rooms/x/send/m.room.message/t${++txn}`, 'token', { msgtype: 'm.text', body: 'hello' })));
  } finally {
    client.base = saved;
    await stopChild(child);
  }
}

async function main(): Promise<void> {
  let child: ChildProcess | null = null;
  let dataDir: string | null = null;
  let pid: number;
  if (!args.includes('--no-bare')) await bare();
  if (opt('url')) {
    client.base = opt('url')!;
    pid = Number(opt('pid'));
  } else {
    ({ child, dataDir } = await startHearth());
    pid = child.pid!;
  }
  try {
    const { token } = await client.register('floor');
    if (ONLY !== 'send') await run('whoami', pid, async () => void (await ok('GET', '/account/whoami', token)));
    if (ONLY !== 'whoami') {
      const { room_id: roomId } = await ok('POST', '/createRoom', token, { preset: 'private_chat' });
      const path = `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/`;
      let txn = 0;
      await run('send', pid, async () => void (await ok('PUT', `${path}t${++txn}`, token, { msgtype: 'm.text', body: 'hello' })));
    }
  } finally {
    client.agent.destroy();
    await stopChild(child, dataDir);
  }
}

await main();
