/**
 * Joining a big room over federation: a Hearth (A, in this process) holds a public room whose
 * state has 10,000 members; a fresh Hearth (B, a child process so its memory is its own) joins
 * it through the client API (make_join, send_join with the whole state and auth chain, every
 * event checked and stored). Prints the join time and B's peak RSS (VmHWM).
 *
 * The members are users of 20 other servers, as in a real public room (each server here is a
 * tiny HTTPS key server in this process; their join events are real PDUs signed with their
 * keys, stored on A through federation's remote-event path). B fetches those servers' keys to
 * check the signatures, like any joining server.
 *
 *   node --import tsx scripts/bench/federation.ts [members]
 *
 * Target: join ≤ 10 s, peak RSS ≤ 300 MB.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { computeEventId, signEvent } from '../../server/protocol/hashing.ts';
import { makeServerKeys, type SigningKey } from '../../server/protocol/signing.ts';
import type { JsonObject, Pdu } from '../../server/protocol/pdu-types.ts';
import { generateSigningKey } from '../../server/services/signing-key.ts';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../server/config/loader.ts';
import type { Config } from '../../server/config/schema.ts';
import { startServer } from '../../server/main.ts';
import { createLogger } from '../../server/logging.ts';
import { fedServerConfig, freePort, makeTestCa, type FedCerts } from '../../test/helpers/federation.ts';
import { stopChild } from './lib.ts';
import { tempDir } from '../../test/helpers/server.ts';

const keyServers: Array<{ close: () => void }> = [];
const MEMBERS = Number(process.argv[3] === undefined ? (process.argv[2] ?? 10_000) : process.argv[2]);

function fedConfig(port: number, dataDir: string, certs: FedCerts): Partial<Config> {
  return { ...fedServerConfig(port, certs), data_dir: dataDir, log_level: 'warn' };
}

async function start(flags: Partial<Config>) {
  const { config } = await loadConfig({ flags: flags as Record<string, unknown>, env: {} });
  const server = await startServer(config, { log: createLogger(process.env.HEARTH_BENCH_LOG ?? 'warn') });
  const http = server.listeners.all.find((l) => l.kind === 'http')!;
  return { server, baseUrl: `http://127.0.0.1:${http.address().port}` };
}

await main();

async function post(url: string, body: unknown, token?: string): Promise<any> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) }, body: JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(`${url}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

async function register(baseUrl: string, name: string): Promise<{ token: string; userId: string }> {
  const first = await fetch(`${baseUrl}/_matrix/client/v3/register`, { method: 'POST', body: JSON.stringify({ username: name, password: `pw-${name}-bench` }) });
  const session = ((await first.json()) as { session: string }).session;
  const done = await post(`${baseUrl}/_matrix/client/v3/register`, { username: name, password: `pw-${name}-bench`, auth: { type: 'm.login.dummy', session } });
  return { token: done.access_token, userId: done.user_id };
}

function kib(status: string, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  return m ? Number(m[1]) : 0;
}

/**
 * The server bundled by `scripts/build.mjs` itself (its DIR form: the server bundle only), into a
 * cache directory inside the repository so its native modules resolve from node_modules.
 */
function buildBundle(): string {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const out = join(root, 'node_modules/.cache/hearth-bench');
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), out], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`scripts/build.mjs failed (exit ${r.status})`);
  // The bundle exports runCli(); bin/hearth.js calls it.
  const entry = join(out, 'run.mjs');
  writeFileSync(entry, "const { runCli } = await import('./hearth.mjs');\nrunCli();\n");
  return entry;
}

/** HTTPS servers publishing a signing key (GET /_matrix/key/v2/server): the home servers of the room's members. */
async function startKeyServers(n: number, certs: FedCerts): Promise<Array<{ name: string; key: SigningKey; close: () => void }>> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const key = generateSigningKey();
    let name = '';
    const srv = https.createServer({ cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, (req, res) => {
      if (req.url !== '/_matrix/key/v2/server') {
        // Transactions A forwards to the room's servers are acknowledged and dropped.
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"pdus":{}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(makeServerKeys(name, [key], [], Date.now() + 86_400_000)));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    name = `localhost:${(srv.address() as AddressInfo).port}`;
    out.push({ name, key, close: () => srv.close() });
  }
  keyServers.push(...out);
  return out;
}

async function main(): Promise<void> {
  const certs = makeTestCa();
  const [portA, portB] = [await freePort(), await freePort()];
  const nameA = `localhost:${portA}`;
  const nameB = `localhost:${portB}`;
  const dirA = tempDir('hearth-bench-a-');
  const dirB = tempDir('hearth-bench-b-');
  let child: ChildProcess | undefined;
  const a = await start(fedConfig(portA, dirA, certs));
  try {
    // --- build the room on A ---
    const t0 = Date.now();
    const owner = await register(a.baseUrl, 'owner');
    const room = await post(`${a.baseUrl}/_matrix/client/v3/createRoom`, { preset: 'public_chat', name: 'big room' }, owner.token);
    const roomId: string = room.room_id;
    const core = a.server.services.roomCore;
    const fedA = a.server.services.federation;
    const servers = await startKeyServers(20, certs);
    const version = await core.versionOf(roomId);
    let state = (await core.currentState(roomId))!;
    let prev = (await core.events.getExtremities(roomId))[0]!;
    let depth = (await core.eventCache.get(prev))!.depth;
    const auth = [state.get('m.room.power_levels')!, state.get('m.room.join_rules')!];
    const BATCH = 500;
    for (let i = 0; i < MEMBERS; i += BATCH) {
      await core.writer.write(async (b) => {
        for (let j = i; j < Math.min(MEMBERS, i + BATCH); j++) {
          const ks = servers[j % servers.length]!;
          const u = `@member${j}:${ks.name}`;
          const draft: JsonObject = {
            room_id: roomId,
            sender: u,
            type: 'm.room.member',
            state_key: u,
            content: { membership: 'join', displayname: `Member ${j}` },
            origin_server_ts: Date.now(),
            depth: ++depth,
            prev_events: [prev],
            auth_events: auth,
          };
          const pdu = signEvent(draft, version, ks.name, ks.key.keyId, ks.key.seed) as unknown as Pdu;
          const eventId = computeEventId(pdu, version);
          const r = await fedA.remote.persistTimeline(b, { eventId, pdu, roomId, version, before: { base: state }, rejected: null }, { noSoftFail: true });
          state = r.stateAfter;
          prev = eventId;
        }
      });
    }
    const built = Date.now() - t0;
    if (process.env.HEARTH_BENCH_DEBUG) console.log('forward extremities after the build:', (await core.events.getExtremities(roomId)).length);
    console.log(`A: room with ${MEMBERS} members built in ${(built / 1000).toFixed(1)} s`);

    // --- start B in its own process (the production bundle, as `hearth serve` runs) and join ---
    const bundle = buildBundle();
    const portHttpB = await freePort();
    writeFileSync(
      join(dirB, 'config.yaml'),
      yamlStringify({ ...fedConfig(portB, dirB, certs), data_dir: undefined, listen: [`127.0.0.1:${portHttpB}`], log_level: process.env.HEARTH_BENCH_LOG ?? 'warn' }),
    );
    // HEARTH_BENCH_PROF=DIR writes a CPU profile of the joining server there.
    const prof = process.env.HEARTH_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.HEARTH_BENCH_PROF}`] : [];
    child = spawn(process.execPath, [...prof, bundle, 'serve', '--data-dir', dirB], { stdio: ['ignore', 'inherit', 'inherit'] });
    const baseB = `http://127.0.0.1:${portHttpB}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${baseB}/_matrix/client/versions`)).ok) break;
      } catch {
        // not listening yet
      }
      if (i > 200) throw new Error('B did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = () => readFileSync(`/proc/${child!.pid}/status`, 'utf8');
    const joiner = await register(baseB, 'joiner');
    const before = { status: status() };
    const tJoin = Date.now();
    await post(`${baseB}/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(nameA)}`, {}, joiner.token);
    const joinMs = Date.now() - tJoin;
    const after = { status: status() };
    const members = await (
      await fetch(`${baseB}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`, { headers: { authorization: `Bearer ${joiner.token}` } })
    ).json();
    const joined = Object.keys((members as { joined?: object }).joined ?? {}).length;
    console.log(`B: joined in ${(joinMs / 1000).toFixed(2)} s (target ≤ 10 s); B sees ${joined} joined members`);
    console.log(
      `B: RSS before join ${(kib(before.status, 'VmRSS') / 1024).toFixed(0)} MB, peak RSS ${(kib(after.status, 'VmHWM') / 1024).toFixed(0)} MB (target ≤ 300 MB), RSS after ${(kib(after.status, 'VmRSS') / 1024).toFixed(0)} MB`,
    );
  } finally {
    await stopChild(child);
    await a.server.stop();
    for (const k of keyServers) k.close();
    if (process.env.HEARTH_BENCH_KEEP) console.log(`kept data directories: A ${dirA}, B ${dirB}`);
    else {
      rmSync(dirA, { recursive: true, force: true });
      rmSync(dirB, { recursive: true, force: true });
    }
    rmSync(certs.dir, { recursive: true, force: true });
  }
}
