import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database } from '../../server/storage/db.ts';
import { tempDir } from '../helpers/server.ts';

const fixture = fileURLToPath(new URL('../fixtures/write-load.ts', import.meta.url));

/** Runs the writer child, SIGKILLs it after `acksBeforeKill` acknowledgements, returns the acked rows. */
function runAndKill(path: string, acksBeforeKill: number): Promise<Set<number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked = new Set<number>();
    let buf = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('ack ')) acked.add(Number(line.slice(4)));
      }
      if (acked.size >= acksBeforeKill && !child.killed) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited without being killed (${signal})`));
      resolve(acked);
    });
  });
}

test('every acknowledged write survives SIGKILL, and the database stays intact', { timeout: 60_000 }, async () => {
  const path = join(tempDir(), 'crash.db');
  // Two rounds: the second kill happens on a database that already went through crash recovery.
  const acked = new Set<number>();
  for (const n of [1500, 1500]) {
    for (const a of await runAndKill(path, n)) acked.add(a);
  }
  const db = await Database.open(path, { cacheSizeKiB: 4096, mmapSizeBytes: 0 });
  const integrity = await db.get<{ integrity_check: string }>('PRAGMA integrity_check');
  assert.equal(integrity?.integrity_check, 'ok');
  const rows = await db.all<{ n: number }>('SELECT n FROM load');
  const present = new Set(rows.map((r) => r.n));
  const missing = [...acked].filter((n) => !present.has(n));
  assert.deepEqual(missing, [], `acknowledged rows lost after SIGKILL: ${missing.slice(0, 10).join(', ')}`);
  assert.ok(acked.size >= 1500);
  await db.close();
});
