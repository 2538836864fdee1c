#!/usr/bin/env node
// Builds dist/: the server bundled by esbuild (one ESM file plus lazily loaded chunks for
// heavy, rarely used modules) and, when ui/ has a Vite project, the wizard UI into dist/ui.
// Native modules (sqlite3, sharp) stay external: they are loaded from node_modules.
import { build } from 'esbuild';
import { existsSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}/dist/server`, { recursive: true, force: true });

await build({
  entryPoints: { hearth: `${root}/server/cli.ts` },
  outdir: `${root}/dist`,
  entryNames: '[name]',
  chunkNames: 'server/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'none',
  external: ['sqlite3', 'sharp', 'playwright-core', 'matrix-js-sdk'],
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __hearthCreateRequire } from 'node:module'; const require = __hearthCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

if (existsSync(`${root}/ui/vite.config.ts`) || existsSync(`${root}/ui/vite.config.js`)) {
  const r = spawnSync(process.execPath, [`${root}/node_modules/vite/bin/vite.js`, 'build', '--logLevel', 'warn'], {
    cwd: `${root}/ui`,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
