/**
 * Client-server benchmark (issue 4): idle RSS, RSS after load, sequential send latency
 * p50/p95/p99 (right after start-up, and again once the server is warm), throughput with 10
 * concurrent senders in one room, /sync wake-up latency (send → the other user's long-poll
 * returns) p50/p95, and initial sync time for a user in 50 rooms × 1,000 messages.
 *
 * Usage:
 *   node --import tsx scripts/bench/cs.ts                 # starts its own Hearth (bundled if built, else tsx)
 *   node --import tsx scripts/bench/cs.ts --tsx           # force the TypeScript sources
 *   node --import tsx scripts/bench/cs.ts --url http://127.0.0.1:8008 [--pid PID]
 *       (a running Hearth started with --open-registration --no-rate-limits; RSS needs --pid)
 *   Options: --rooms 50 --messages 1000 --sends 1000 --wakeups 200
 *            --board-memory 2048  (database cache sized as on a 2 GB board instead of this host)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { argOpt, BenchClient, cpuMs, freePort, rssDetail, rssMb, stopChild, unitEnvironment } from './lib.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, def?: string) => argOpt(args, name, def);
const flag = (name: string) => args.includes(`--${name}`);
const ROOMS = Number(opt('rooms', '50'));
const MESSAGES = Number(opt('messages', '1000'));
const SENDS = Number(opt('sends', '1000'));
const WAKEUPS = Number(opt('wakeups', '200'));
const CONCURRENT = 10;
const PER_SENDER = 500;

const client = new BenchClient(64);
const { request, ok, register } = client;

const enc = encodeURIComponent;
let txn = 0;
function send(token: string, roomId: string, body: string): Promise<any> {
  return ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/b${++txn}`, token, { msgtype: 'm.text', body });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function startHearth(): Promise<{ child: ChildProcess; dataDir: string; how: string }> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-bench-cs-'));
  const boardMb = opt('board-memory');
  if (boardMb) {
    // Pretend to be a board with this much RAM: the database cache and mmap follow from it
    // (machine-profile.ts caches the profile in machine.json, keyed by this host's fingerprint).
    writeFileSync(
      join(dataDir, 'machine.json'),
      JSON.stringify({ fingerprint: `${os.arch()}/${os.totalmem()}/${os.cpus().length}`, arch: os.arch(), totalMemBytes: Number(boardMb) * 1024 * 1024, cpus: os.cpus().length, model: 'bench', board: 'generic' }),
    );
  }
  const bundled = !flag('tsx') && existsSync(join(root, 'dist/hearth.mjs'));
  const cmd = bundled ? [join(root, 'bin/hearth.js')] : ['--import', 'tsx', join(root, 'server/cli.ts')];
  const child = spawn(
    process.execPath,
    [...cmd, 'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--server-name', 'bench.local', '--log-level', 'warn', '--open-registration', '--no-rate-limits'],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      // BENCH_NODE_OPTIONS tries other V8 settings than the unit's (e.g. a smaller young generation).
      env: { ...process.env, ...unitEnvironment(), ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}) },
    },
  );
  client.base = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await request('GET', '/_matrix/client/versions', null)).status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() - t0 > 30_000) throw new Error('Hearth did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, dataDir, how: bundled ? 'bundled (dist/hearth.mjs)' : 'tsx (sources)' };
}

async function main(): Promise<void> {
  let child: ChildProcess | undefined;
  let dataDir: string | undefined;
  let pid: number | undefined;
  const url = opt('url');
  if (url) {
    client.base = url;
    pid = opt('pid') ? Number(opt('pid')) : undefined;
    console.log(`Hearth at ${url}`);
  } else {
    const h = await startHearth();
    child = h.child;
    dataDir = h.dataDir;
    pid = child.pid;
    console.log(`Hearth started: ${h.how}, ${client.base}, env ${JSON.stringify({ ...unitEnvironment(), ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}) })}`);
  }
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idle = pid ? rssMb(pid) : NaN;
    console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (other work on the host inflates latencies)`);
    console.log(`idle RSS:                         ${pid ? rssDetail(pid) : 'n/a (pass --pid)'}`);
    void idle;

    // --- sequential sends ---------------------------------------------------------------------
    const alice = await register();
    const bob = await register();
    const room = (await ok('POST', '/createRoom', alice.token, { preset: 'public_chat' })).room_id;
    await ok('POST', `/join/${enc(room)}`, bob.token, {});
    for (let i = 0; i < 100; i++) await send(alice.token, room, `warmup ${i}`);
    const sequential = async (label: string): Promise<void> => {
      const lat: number[] = [];
      const cpu0 = pid ? cpuMs(pid) : 0;
      for (let i = 0; i < SENDS; i++) {
        const t0 = performance.now();
        await send(alice.token, room, `sequential ${i}`);
        lat.push(performance.now() - t0);
      }
      lat.sort((x, y) => x - y);
      const seqCpu = pid ? (cpuMs(pid) - cpu0) / SENDS : NaN;
      console.log(`${label.padEnd(33)} p50 ${ms(pct(lat, 50))}  p95 ${ms(pct(lat, 95))}  p99 ${ms(pct(lat, 99))}  (server CPU ${seqCpu.toFixed(2)} ms/message)`);
    };
    // Right after start-up (100 warm-up sends): V8 still runs most of the send path unoptimised.
    await sequential(`sequential send (${SENDS}):`);

    // --- throughput: 10 concurrent senders in one room ---------------------------------------
    const senders = await Promise.all(Array.from({ length: CONCURRENT }, () => register()));
    const busy = (await ok('POST', '/createRoom', alice.token, { preset: 'public_chat' })).room_id;
    for (const s of senders) await ok('POST', `/join/${enc(busy)}`, s.token, {});
    const tt0 = performance.now();
    const tcpu0 = pid ? cpuMs(pid) : 0;
    await Promise.all(senders.map(async (s, n) => {
      for (let i = 0; i < PER_SENDER; i++) await send(s.token, busy, `sender ${n} message ${i}`);
    }));
    const secs = (performance.now() - tt0) / 1000;
    const tcpu = pid ? (cpuMs(pid) - tcpu0) / (CONCURRENT * PER_SENDER) : NaN;
    console.log(`throughput, ${CONCURRENT} senders × ${PER_SENDER}:     ${((CONCURRENT * PER_SENDER) / secs).toFixed(0)} messages/s  (server CPU ${tcpu.toFixed(2)} ms/message → ≤ ${(1000 / tcpu).toFixed(0)}/s on one free core)`);
    // The same sequential sends once the server has handled a few thousand (JIT-compiled code):
    // what a server that has been running for a while answers.
    await sequential(`  again, warm (after ${SENDS + 100 + CONCURRENT * PER_SENDER} sends):`);

    // --- /sync wake-up latency -----------------------------------------------------------------
    let since = (await ok('GET', '/sync?timeout=0', bob.token)).next_batch as string;
    const wake: number[] = [];
    for (let i = 0; i < WAKEUPS; i++) {
      const poll = ok('GET', `/sync?timeout=30000&since=${enc(since)}`, bob.token);
      await new Promise((r) => setTimeout(r, 5)); // let the long-poll park
      const t0 = performance.now();
      const sent = send(alice.token, room, `wake ${i}`);
      const res = await poll;
      const t1 = performance.now();
      const { event_id } = await sent;
      since = res.next_batch;
      const got = (res.rooms?.join?.[room]?.timeline?.events ?? []).some((e: any) => e.event_id === event_id);
      if (!got) {
        i--; // woke for something else (e.g. a receipt); retry this sample
        continue;
      }
      wake.push(t1 - t0);
    }
    wake.sort((x, y) => x - y);
    console.log(`sync wake-up (${WAKEUPS}):               p50 ${ms(pct(wake, 50))}  p95 ${ms(pct(wake, 95))}`);

    // --- initial sync: one user in ROOMS rooms × MESSAGES messages ------------------------------
    const carol = await register();
    const writers = await Promise.all(Array.from({ length: CONCURRENT }, () => register()));
    const rooms: string[] = [];
    for (let r = 0; r < ROOMS; r++) {
      rooms.push((await ok('POST', '/createRoom', carol.token, { preset: 'public_chat', name: `bench room ${r}` })).room_id);
    }
    const pf0 = performance.now();
    // Each writer fills a share of the rooms, one message at a time.
    await Promise.all(writers.map(async (w, n) => {
      for (let r = n; r < ROOMS; r += CONCURRENT) {
        await ok('POST', `/join/${enc(rooms[r]!)}`, w.token, {});
        for (let i = 0; i < MESSAGES; i++) await send(w.token, rooms[r]!, `room ${r} message ${i}`);
      }
    }));
    const fillSecs = (performance.now() - pf0) / 1000;
    console.log(`  (filled ${ROOMS} rooms × ${MESSAGES} messages in ${fillSecs.toFixed(1)} s, ${((ROOMS * MESSAGES) / fillSecs).toFixed(0)} messages/s)`);
    const times: number[] = [];
    let size = 0;
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      const s = await request('GET', '/sync', carol.token);
      times.push(performance.now() - t0);
      size = JSON.stringify(s.body).length;
      if (Object.keys(s.body.rooms.join).length !== ROOMS) throw new Error('initial sync is missing rooms');
    }
    const first = times.shift()!;
    times.sort((x, y) => x - y);
    console.log(`initial sync, ${ROOMS} rooms × ${MESSAGES} msgs:  first ${ms(first)}, then median ${ms(pct(times, 50))}  (${(size / 1024).toFixed(0)} KiB)`);
    const lazy = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 20 }, state: { lazy_load_members: true } } }));
    const lt: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await ok('GET', `/sync?filter=${lazy}`, carol.token);
      lt.push(performance.now() - t0);
    }
    lt.sort((x, y) => x - y);
    console.log(`  same with timeline.limit 20 + lazy members (Element's filter): median ${ms(pct(lt, 50))}`);

    await new Promise((r) => setTimeout(r, 1000));
    console.log(`RSS after load:                   ${pid ? rssDetail(pid) : 'n/a (pass --pid)'}`);
  } finally {
    client.agent.destroy();
    await stopChild(child, dataDir);
  }
}

await main();
