// server/appliance/systemd-notify.ts against a real notify socket: a small Python listener
// plays systemd's side of the protocol (AF_UNIX datagrams, closing BARRIER=1 fds the way the
// manager does), and a real Node process uses the module with the environment systemd sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const haveTools =
  spawnSync('python3', ['-c', 'import socket'], { stdio: 'ignore' }).status === 0 &&
  spawnSync('systemd-notify', ['--help'], { stdio: 'ignore' }).status === 0;

const LISTENER = `
import socket, sys, os, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("LISTENING", flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(64))
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(data[: len(data) - len(data) % 4])
            for fd in fds: os.close(fd)
    print(msg.decode().replace("\\n", " ").strip(), flush=True)
`;

// The server's side: what server/main.ts does, with shortened timings.
const SERVER = `
import { notifyReady, notifyStopping, startWatchdog } from './server/appliance/systemd-notify.ts';
notifyReady();
const stop = startWatchdog();
setTimeout(() => {
  stop();
  notifyStopping();
  console.log('STOPPED-WATCHDOG');
  setTimeout(() => {}, 700);
}, 900);
`;

async function listen(sock: string): Promise<{ lines: string[]; stop: () => void }> {
  const child = spawn('python3', ['-c', LISTENER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'LISTENING') resolve();
        else lines.push(line);
      }
    });
    child.on('exit', () => reject(new Error('listener exited')));
  });
  return { lines, stop: () => child.kill() };
}

function runServer(env: NodeJS.ProcessEnv): Promise<{ pid: number; stdout: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SERVER], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('exit', (code) => resolve({ pid: child.pid!, stdout, code }));
  });
}

test('under systemd: READY with our pid, watchdog pings at half the interval, then STOPPING', { skip: !haveTools && 'needs python3 and systemd-notify' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-notify-'));
  const sock = join(dir, 'notify.sock');
  const listener = await listen(sock);
  try {
    // WATCHDOG_USEC=300 ms: pings every 150 ms during the 900 ms the fake server runs.
    const r = await runServer({ ...process.env, NOTIFY_SOCKET: sock, WATCHDOG_USEC: '300000' });
    assert.equal(r.code, 0);
    await new Promise((res) => setTimeout(res, 200));
    const ready = listener.lines.find((l) => l.includes('READY=1'));
    assert.ok(ready, `no READY=1 in ${JSON.stringify(listener.lines)}`);
    assert.match(ready, new RegExp(`MAINPID=${r.pid}\\b`));
    const pings = listener.lines.filter((l) => l.startsWith('WATCHDOG=1'));
    assert.ok(pings.length >= 3 && pings.length <= 8, `expected ~5 watchdog pings, got ${pings.length}`);
    const stopIdx = listener.lines.findIndex((l) => l.includes('STOPPING=1'));
    assert.ok(stopIdx > 0, 'no STOPPING=1');
    // stop() really stops: no ping after STOPPING although the process lived 700 ms longer.
    assert.equal(listener.lines.slice(stopIdx).filter((l) => l.startsWith('WATCHDOG=1')).length, 0);
  } finally {
    listener.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a watchdog meant for another pid (inherited WATCHDOG_PID) does not ping', { skip: !haveTools && 'needs python3 and systemd-notify' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-notify-'));
  const sock = join(dir, 'notify.sock');
  const listener = await listen(sock);
  try {
    const r = await runServer({ ...process.env, NOTIFY_SOCKET: sock, WATCHDOG_USEC: '300000', WATCHDOG_PID: '1' });
    assert.equal(r.code, 0);
    await new Promise((res) => setTimeout(res, 200));
    assert.ok(listener.lines.some((l) => l.includes('READY=1')));
    assert.equal(listener.lines.filter((l) => l.startsWith('WATCHDOG=1')).length, 0);
  } finally {
    listener.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('not under systemd (no NOTIFY_SOCKET): nothing is run at all', async () => {
  // A fake systemd-notify first on PATH leaves a mark if anything runs it.
  const dir = mkdtempSync(join(tmpdir(), 'hearth-notify-'));
  const mark = join(dir, 'ran');
  const fake = join(dir, 'systemd-notify');
  writeFileSync(fake, `#!/bin/sh\necho "$@" >> '${mark}'\n`);
  chmodSync(fake, 0o755);
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH}`, WATCHDOG_USEC: '100000' };
    delete env.NOTIFY_SOCKET;
    const r = await runServer(env);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /STOPPED-WATCHDOG/);
    assert.equal(existsSync(mark), false, 'systemd-notify was run without NOTIFY_SOCKET');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
