/**
 * startTestServer(): a real Hearth on a loopback port with a fresh data directory — the way
 * every HTTP test starts one. Call `stop()` (and optionally `cleanup()`) when done.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config/loader.ts';
import type { Config } from '../../server/config/schema.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { createLogger } from '../../server/logging.ts';

export interface TestServer {
  server: RunningServer;
  /** http://127.0.0.1:PORT of the first plain-HTTP listener. */
  baseUrl: string;
  dataDir: string;
  config: Config;
  stop(): Promise<void>;
  /** Stops (if running) and deletes the data directory. */
  cleanup(): Promise<void>;
}

export function tempDir(prefix = 'hearth-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestServer(overrides: Partial<Config> = {}, opts: { dataDir?: string } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const { config } = await loadConfig({
    flags: { data_dir: dataDir, listen: ['127.0.0.1:0'], server_name: 'localhost', ...overrides },
    env: {},
  });
  const log = createLogger(process.env.HEARTH_TEST_LOG ?? 'silent');
  const server = await startServer(config, { log });
  const http = server.listeners.all.find((l) => l.kind === 'http');
  const baseUrl = http ? `http://127.0.0.1:${http.address().port}` : '';
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
  };
  return {
    server,
    baseUrl,
    dataDir,
    config,
    stop,
    cleanup: async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
