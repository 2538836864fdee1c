/** Chromium (Debian package, driven by playwright-core) for the wizard tests, plus a UI build. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const root = new URL('../..', import.meta.url).pathname;

/** Builds the UI into a fresh directory (so a concurrent `npm run build` cannot race us). */
export function buildUi(): string {
  const out = mkdtempSync(join(tmpdir(), 'hearth-ui-'));
  const r = spawnSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error', '--outDir', out, '--emptyOutDir'], {
    cwd: join(root, 'ui'),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`UI build failed: ${r.stderr}`);
  return out;
}

export async function launchChromium(hostRules: string[], viewport = { width: 1100, height: 900 }): Promise<{ ctx: BrowserContext; page: Page; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'hearth-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport,
    // Pebble's root is not in Chromium's store; the TLS chain is checked separately in Node.
    ignoreHTTPSErrors: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
      `--host-resolver-rules=${hostRules.join(', ')}`,
    ],
  });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(30_000);
  return {
    ctx,
    page,
    close: async () => {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Screenshots of every step, kept as test artifacts (test-artifacts/ is gitignored). */
export function screenshotter(name: string) {
  const dir = join(root, 'test-artifacts', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  return {
    dir,
    shot: async (page: Page, label: string) => {
      n++;
      await page.screenshot({ path: join(dir, `${String(n).padStart(2, '0')}-${label}.png`), fullPage: true });
    },
  };
}
