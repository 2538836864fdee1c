/**
 * Startup benchmark: time from spawning `hearth serve` to its first `/_matrix/client/versions`
 * answer, and RSS once idle, median of several runs. Compares:
 *   bundled    — bin/hearth.js → dist/hearth.mjs (what the appliance runs)
 *   deps-external — our code bundled, node_modules loaded file by file (what "unbundled" costs)
 *   tsx        — the TypeScript sources through tsx (development)
 * "warm" runs reuse a data directory (the normal boot); "first" runs start from an empty one.
 *   floor      — node:http + sqlite3 with a database open, no Hearth code: the least any variant can use
 * Then, for bundled and floor, the functions TurboFan compiled during start (see turbofanAtStart).
 * The bundled variant runs with the environment systemd/hearth.service gives the appliance
 * (NODE_OPTIONS, MALLOC_ARENA_MAX, NODE_ENV: read from the unit, printed).
 * Usage: node --import tsx scripts/bench/startup.ts [runs=7]
 *   BENCH_SETTLED=1  also RSS 8.5 s after the first answer ("settled": V8's memory reducer has
 *                    run by then and RSS stays there while idle), ~8 s more per warm run
 *   BENCH_VARIANTS=bundled,tsx   only these variants
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { anonMb, freePort, rssMb, stopChild, unitEnvironment } from './lib.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const runs = Number(process.argv[2] ?? 7);

async function bareNode(): Promise<{ rss: number; anon: number }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const out = { rss: rssMb(child.pid!), anon: anonMb(child.pid!) };
  child.kill();
  return out;
}

/**
 * The floor under any Hearth: Node answering /versions from node:http with sqlite3 loaded and a
 * database open — what the same measurement gives with none of Hearth's code.
 */
const FLOOR = `
const sqlite3 = require('sqlite3');
const db = new sqlite3.Database(process.argv[1] + '/floor.db');
db.get('PRAGMA user_version', () => {
  require('node:http').createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ versions: ['v1.12'] }));
  }).listen(Number(process.argv[2]), '127.0.0.1');
});`;

async function once(
  cmd: string[],
  dataDir: string,
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
  settle = false,
): Promise<{ ms: number; rss: number; anon: number; settled: number; stdout: string }> {
  const port = await freePort();
  const t0 = performance.now();
  const args = cmd[0] === '-e' ? [...cmd, dataDir, String(port)] : [...cmd, 'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--server-name', 'bench.local', '--log-level', 'warn'];
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    cwd: root,
    stdio: ['ignore', nodeFlags.length ? 'pipe' : 'ignore', 'ignore'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  let ms = -1;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/_matrix/client/versions`);
      if (r.ok) {
        await r.arrayBuffer();
        ms = performance.now() - t0;
        break;
      }
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > 20_000) throw new Error('server did not start');
    await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise((r) => setTimeout(r, 500));
  const rss = rssMb(child.pid!);
  const anon = anonMb(child.pid!);
  const seen = stdout;
  let settled = NaN;
  if (settle) {
    await new Promise((r) => setTimeout(r, 8000));
    settled = rssMb(child.pid!);
  }
  await stopChild(child);
  return { ms, rss, anon, settled, stdout: seen };
}

/**
 * Functions TurboFan optimised by the time the idle RSS is read (`node --trace-opt`, one warm
 * start). Any at all brings ~3.7 MB of the node binary's compiler code into memory; at start they
 * come from module loading (Node's path code, hot from the ESM resolution of each chunk import:
 * scripts/build.mjs), so this number rising from 0 explains a jump in idle RSS.
 */
async function turbofanAtStart(cmd: string[], env: Record<string, string>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-'));
  try {
    await once(cmd, dir, env);
    const { stdout } = await once(cmd, dir, env, ['--trace-opt']);
    return [...stdout.matchAll(/completed optimizing [^<]*<JSFunction ([^ >]*)/g)].map((m) => m[1]!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const ext = mkdtempSync(join(tmpdir(), 'hearth-bench-ext-'));
  await build({
    entryPoints: [join(root, 'server/cli.ts')],
    outfile: join(ext, 'cli.mjs'),
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
    footer: { js: 'runCli();' },
  });
  // Resolve node_modules from the repo.
  const extEntry = join(root, 'node_modules/.hearth-bench-cli.mjs');
  const { copyFileSync } = await import('node:fs');
  copyFileSync(join(ext, 'cli.mjs'), extEntry);

  const only = process.env.BENCH_VARIANTS?.split(',');
  const appliance = unitEnvironment();
  const variants = (
    [
      ['bundled', [join(root, 'bin/hearth.js')], appliance],
      ['deps-external', [extEntry], {}],
      ['tsx', ['--import', 'tsx', join(root, 'server/cli.ts')], {}],
      ['floor', ['-e', FLOOR], appliance],
    ] as Array<[string, string[], Record<string, string>]>
  ).filter(([name]) => !only || only.includes(name));
  console.log(`startup benchmark, median of ${runs} runs (node ${process.version}, ${process.arch})`);
  const bare = await bareNode();
  console.log(`bare node (no code): RSS ${bare.rss.toFixed(1)} MB, private anon ${bare.anon.toFixed(1)} MB`);
  console.log(`bundled runs with the unit's environment: ${Object.entries(appliance).map(([k, v]) => `${k}=${v}`).join(' ') || '(none)'}`);
  console.log(`load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  const settle = process.env.BENCH_SETTLED === '1';
  console.log(`variant          first-start ms   warm-start ms   idle RSS MB   private anon MB${settle ? '   settled RSS MB (8.5 s)' : ''}`);
  for (const [name, cmd, env] of variants) {
    const first: number[] = [];
    const warm: number[] = [];
    const rss: number[] = [];
    const anon: number[] = [];
    const settled: number[] = [];
    for (let i = 0; i < runs; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'hearth-bench-'));
      first.push((await once(cmd, dir, env)).ms);
      const w = await once(cmd, dir, env, [], settle);
      warm.push(w.ms);
      rss.push(w.rss);
      anon.push(w.anon);
      settled.push(w.settled);
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(
      `${name.padEnd(16)} ${median(first).toFixed(0).padStart(14)} ${median(warm).toFixed(0).padStart(15)} ${median(rss).toFixed(1).padStart(13)} ${median(anon).toFixed(1).padStart(17)}${settle ? median(settled).toFixed(1).padStart(25) : ''}`,
    );
  }
  for (const [name, cmd, env] of variants.filter(([n]) => n === 'bundled' || n === 'floor')) {
    const fns = await turbofanAtStart(cmd, env);
    console.log(`${name}: TurboFan-optimised functions 0.5 s after the first answer: ${fns.length}${fns.length ? ` (${fns.join(', ')})` : ''}`);
  }
  rmSync(extEntry, { force: true });
  rmSync(ext, { recursive: true, force: true });
}

await main();
