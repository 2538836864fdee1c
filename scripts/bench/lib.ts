/**
 * What the benchmarks share: a free loopback port, a process's memory and CPU from /proc, and
 * the environment the appliance's systemd unit gives Node (so a bench measures what the box
 * runs, not a differently tuned process).
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A kB field of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile…) in MB. */
export function statusMb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0) / 1024;
}

export function rssMb(pid: number): number {
  return statusMb(pid, 'VmRSS');
}

/**
 * RSS split: anonymous memory (JS heap, caches, SQLite page cache) vs file-backed pages (the node
 * binary, and the database file when SQLite memory-maps it — shared and reclaimable).
 */
export function rssDetail(pid: number): string {
  const f = (k: string) => statusMb(pid, k).toFixed(1);
  return `${rssMb(pid).toFixed(1)} MB (anon ${f('RssAnon')}, file ${f('RssFile')}, shmem ${f('RssShmem')})`;
}

/**
 * Private anonymous memory (heap, stacks, malloc): what the process itself costs. RSS also counts
 * the node executable's file pages, which are shared with every other Node process and
 * reclaimable, so benches report both.
 */
export function anonMb(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/Pss_Anon:\s+(\d+)/.exec(rollup)?.[1] ?? 0) / 1024;
}

/** CPU time (user + system) the process has used, in ms (clock ticks are 10 ms here). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * The Environment= variables of systemd/hearth.service that change how Node runs (NODE_OPTIONS,
 * NODE_ENV, MALLOC_*); HEARTH_* settings are the bench's own business. Quoted lines
 * (`Environment="NODE_OPTIONS=--a --b"`) are read whole.
 */
export function unitEnvironment(): Record<string, string> {
  const out: Record<string, string> = {};
  let unit = '';
  try {
    unit = readFileSync(join(repoRoot, 'systemd/hearth.service'), 'utf8');
  } catch {
    return out; // No unit file: run with the plain environment.
  }
  for (const line of unit.split('\n')) {
    const m = /^Environment="?([A-Z_]+)=(.*?)"?$/.exec(line.trim());
    if (m && (m[1] === 'NODE_OPTIONS' || m[1] === 'NODE_ENV' || m[1]!.startsWith('MALLOC_'))) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** `--name value` from the command line, or `def`. */
export function argOpt(args: string[], name: string, def?: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
}

export interface BenchResponse {
  status: number;
  body: any;
}

/**
 * A keep-alive JSON client for the client-server API, as lean as a bench needs (no fetch: its
 * per-request overhead would be measured too). Paths without a leading `/_` are under
 * /_matrix/client/v3. Set `base` before the first request.
 */
export class BenchClient {
  base = '';
  readonly agent: http.Agent;
  private users = 0;

  constructor(maxSockets: number) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request = (method: string, path: string, token: string | null, body?: unknown): Promise<BenchResponse> => {
    const url = new URL(path.startsWith('/_') ? path : `/_matrix/client/v3${path}`, this.base);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  };

  /** The response body of a 200; anything else throws with the status and body. */
  ok = async (method: string, path: string, token: string | null, body?: unknown): Promise<any> => {
    const r = await this.request(method, path, token, body);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  /** A new user through m.login.dummy (the server runs with --open-registration). */
  register = async (prefix = 'bench'): Promise<{ userId: string; token: string }> => {
    const username = `${prefix}${Date.now().toString(36)}${++this.users}`;
    const first = await this.request('POST', '/register', null, { username, password: 'bench-password-1' });
    const done = await this.ok('POST', '/register', null, { username, password: 'bench-password-1', auth: { type: 'm.login.dummy', session: first.body.session } });
    return { userId: done.user_id, token: done.access_token };
  };
}

/** Stops a server the bench started (SIGTERM, then waits for it to exit) and removes its data directory. */
export async function stopChild(child: ChildProcess | null | undefined, dataDir?: string | null): Promise<void> {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
