/**
 * Media benchmark: peak server RSS while 20 clients at once each upload a ~5 MB JPEG and ask
 * for thumbnails of it (a burst like a group chat sharing holiday photos). Target on a 2 GB
 * board: peak ≤ 250 MB. The server runs in its own process (our code bundled by esbuild, npm
 * packages loaded from node_modules), so this process's memory is not counted; peak RSS is
 * the kernel's high-water mark (VmHWM) plus 10 ms samples of VmRSS.
 *
 * Usage: node --import tsx scripts/bench/media.ts [clients=20] [rounds=1]
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { freePort, statusMb, stopChild } from './lib.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import sharp from 'sharp';
import { registerUser, type TestUser } from '../../test/helpers/clients.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const clients = Number(process.argv[2] ?? 20);
const rounds = Number(process.argv[3] ?? 1);
const THUMBS = ['width=320&height=240&method=scale', 'width=96&height=96&method=crop', 'width=800&height=600&method=scale'];

/** A photo-like ~5 MB JPEG (noise over a gradient compresses about as badly as a real photo). */
async function makeJpeg(): Promise<Buffer> {
  const gradient = await sharp({ create: { width: 3200, height: 2400, channels: 3, background: '#4a7db0', noise: { type: 'gaussian', mean: 128, sigma: 28 } } })
    .jpeg({ quality: 93 })
    .toBuffer();
  return gradient;
}

/** Same picture, different bytes: a JPEG comment segment after SOI, so every upload is a distinct blob. */
function variant(jpeg: Buffer, i: number): Buffer {
  const text = Buffer.from(`bench client ${i} ${Math.random()}`);
  const com = Buffer.alloc(4);
  com.writeUInt16BE(0xfffe, 0);
  com.writeUInt16BE(text.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), com, text, jpeg.subarray(2)]);
}

async function withRetry(fn: () => Promise<Response>): Promise<{ res: Response; retries: number }> {
  for (let retries = 0; ; retries++) {
    const res = await fn();
    if (res.status !== 429 || retries > 50) return { res, retries };
    const body = (await res.json()) as { retry_after_ms?: number };
    await new Promise((r) => setTimeout(r, body.retry_after_ms ?? 500));
  }
}

/**
 * Each run is done twice: with glibc's default malloc arenas (one per thread that allocates:
 * libvips, scrypt, fs and sqlite all run on libuv threads) and with MALLOC_ARENA_MAX=2, which
 * the sharp documentation recommends for glibc and which a systemd unit can set.
 */
const VARIANTS: Array<[string, Record<string, string>]> = [
  ['glibc default arenas', {}],
  ['MALLOC_ARENA_MAX=2', { MALLOC_ARENA_MAX: '2' }],
];

async function main() {
  const jpeg = await makeJpeg();
  const meta = await sharp(jpeg).metadata();
  console.log(`media benchmark (node ${process.version}, ${process.arch}, ${clients} clients x ${rounds} round(s))`);
  console.log(`source JPEG: ${(jpeg.length / 1048576).toFixed(2)} MB, ${meta.width}x${meta.height}; thumbnails per upload: ${THUMBS.length} (${THUMBS.join(', ')})`);
  for (const [name, env] of VARIANTS) {
    console.log(`\n== ${name}`);
    await runOnce(jpeg, env);
  }
}

async function runOnce(jpeg: Buffer, extraEnv: Record<string, string>) {
  const entry = join(root, 'node_modules/.hearth-bench-media.mjs');
  const out = mkdtempSync(join(tmpdir(), 'hearth-bench-media-build-'));
  await build({
    entryPoints: [join(root, 'server/cli.ts')],
    outfile: join(out, 'cli.mjs'),
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'error',
    footer: { js: 'runCli();' },
  });
  copyFileSync(join(out, 'cli.mjs'), entry);

  const dataDir = mkdtempSync(join(tmpdir(), 'hearth-bench-media-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [entry, 'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--server-name', 'bench.local', '--open-registration', '--no-rate-limits', '--log-level', 'warn'],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...extraEnv } },
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/_matrix/client/versions`)).ok) break;
      } catch {
        // not up yet
      }
      if (i > 2000) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 10));
    }
    const started = statusMb(child.pid!, 'VmRSS');
    const users: TestUser[] = [];
    for (let i = 0; i < clients; i++) users.push(await registerUser(base, `bench${i}`));
    await new Promise((r) => setTimeout(r, 300));
    const idle = statusMb(child.pid!, 'VmRSS');

    let sampledPeak = 0;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, statusMb(child.pid!, 'VmRSS'))), 10);
    const uploadMs: number[] = [];
    const thumbMs: number[] = [];
    let retries = 0;
    let failures = 0;
    const t0 = performance.now();
    for (let round = 0; round < rounds; round++) {
      await Promise.all(
        users.map(async (u, i) => {
          const h = { authorization: `Bearer ${u.accessToken}` };
          const u0 = performance.now();
          const up = await fetch(`${base}/_matrix/media/v3/upload?filename=photo${i}.jpg`, {
            method: 'POST',
            headers: { ...h, 'content-type': 'image/jpeg' },
            body: new Uint8Array(variant(jpeg, i + round * clients)),
          });
          const { content_uri } = (await up.json()) as { content_uri: string };
          uploadMs.push(performance.now() - u0);
          for (const q of THUMBS) {
            const s0 = performance.now();
            const r = await withRetry(() => fetch(`${base}/_matrix/client/v1/media/thumbnail/${content_uri.slice(6)}?${q}`, { headers: h }));
            retries += r.retries;
            if (r.res.status !== 200) failures++;
            await r.res.arrayBuffer();
            thumbMs.push(performance.now() - s0);
          }
        }),
      );
    }
    const totalS = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const hwm = statusMb(child.pid!, 'VmHWM');
    const after = statusMb(child.pid!, 'VmRSS');
    const pct = (xs: number[], p: number) => xs.length === 0 ? '-' : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!.toFixed(0);
    console.log(`server RSS idle: ${started.toFixed(1)} MB after start, ${idle.toFixed(1)} MB after registering ${clients} users (scrypt)`);
    console.log(`server RSS peak: ${hwm.toFixed(1)} MB (VmHWM), ${sampledPeak.toFixed(1)} MB (10 ms samples)   target <= 250 MB`);
    console.log(`server RSS after the burst: ${after.toFixed(1)} MB`);
    console.log(`wall time: ${totalS.toFixed(1)} s; upload ms p50 ${pct(uploadMs, 0.5)} p95 ${pct(uploadMs, 0.95)}; thumbnail ms p50 ${pct(thumbMs, 0.5)} p95 ${pct(thumbMs, 0.95)}`);
    console.log(`429 retries: ${retries}; failed thumbnails: ${failures}`);
  } finally {
    await stopChild(child, dataDir);
    rmSync(out, { recursive: true, force: true });
    rmSync(entry, { force: true });
  }
}

await main();
