/** Runs the `hearth` CLI (from source, through tsx) as a child process, like a user would. */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../server/cli.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function hearth(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], {
    cwd: opts.cwd ?? root,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `hearth serve …` in the background; resolves once it logs "hearth ready". */
export function hearthServe(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ child: ChildProcessWithoutNullStreams; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'serve', ...args], {
    cwd: root,
    env: { ...process.env, HEARTH_LOG_LEVEL: 'info', ...opts.env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hearth serve did not become ready:\n${out}`)), 30_000);
    const check = () => {
      if (out.includes('hearth ready')) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve({ child, output: () => out, exited });
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hearth serve exited early (${code}):\n${out}`));
    });
  });
}
