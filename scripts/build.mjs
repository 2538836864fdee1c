#!/usr/bin/env node
// Builds dist/: the server bundled by esbuild (one ESM file plus lazily loaded chunks for
// heavy, rarely used modules) and, when ui/ has a Vite project, the wizard UI into dist/ui.
// Native modules (sqlite3, sharp) stay external: they are loaded from node_modules.
//
// Startup cost on a small board is mostly parsing and holding the chunks a start loads (issue 2:
// cold start ≤ 0.4 s, idle RSS ≤ 50 MB; scripts/bench/startup.ts), hence:
// - minified output: ~half the bytes to read and parse, and V8 keeps each loaded chunk's source
//   in memory (one byte per character, but two if any non-ASCII character is left, e.g. in a
//   comment). keepNames keeps function and class names in stack traces; the linked source maps
//   map positions back (run with NODE_OPTIONS=--enable-source-maps when debugging; nothing
//   loads them otherwise).
// - one copy of mime-db (~230 KB of JSON, parsed at load): koa, type-is and accepts each pull
//   their own version in; the newest serves all three.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { existsSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Resolves every import of the packages named here to the copy koa uses. */
const SINGLE_COPY = ['mime-db'];
const fromKoa = createRequire(`${root}/node_modules/koa/package.json`);
const singleCopy = {
  name: 'single-copy',
  setup(b) {
    const filter = new RegExp(`^(${SINGLE_COPY.join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: fromKoa.resolve(args.path) }));
  },
};
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
  minify: true,
  keepNames: true,
  plugins: [singleCopy],
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
