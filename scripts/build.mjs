#!/usr/bin/env node
// Builds dist/: the server bundled by esbuild (one ESM file plus lazily loaded chunks for
// heavy, rarely used modules) and, when ui/ has a Vite project, the wizard UI into dist/ui.
// Native modules (sqlite3, sharp) stay external: they are loaded from node_modules.
//
// Startup cost on a small board is mostly parsing and holding the chunks a start loads (issue 2:
// cold start ≤ 0.4 s, idle RSS ≤ 50 MB; scripts/bench/startup.ts), hence:
// - minified output (whitespace and syntax): fewer bytes to read and parse, and V8 keeps each
//   loaded chunk's source in memory (one byte per character, but two if any non-ASCII character
//   is left, e.g. in a comment). Identifiers are NOT renamed, so functions and classes keep
//   their own names in stack traces and logs. The alternative, renaming plus esbuild's
//   keepNames, wraps every function and class in a __name() call that redefines `name` on each
//   closure as it is created: that cost ~20% of the main thread's CPU per /send
//   (scripts/bench/cs.ts; 10 senders: 640–726 → 518–574 µs per message), for a bundle ~30%
//   smaller on disk whose loaded part made no measurable difference to idle RSS or start time.
//   The linked source maps map positions back (run with NODE_OPTIONS=--enable-source-maps when
//   debugging; nothing loads them otherwise).
// - one copy of mime-db (~230 KB of JSON, parsed at load): koa, type-is and accepts each pull
//   their own version in; the newest serves all three. And mime-types (which indexes all of
//   mime-db, ~2 MB of heap, when loaded) is loaded on first use: its answers for the few types
//   Koa sets on every response ('json', 'text', …) are computed here, at build time, by the
//   same copy of mime-types, so they are exactly what it would say.
// - Koa's `set body` and `respond` ask `instanceof Response` (and ReadableStream) of every body, and
//   touching Node's global Response loads undici (~110 ms, http2, zlib, WebAssembly). No value
//   can be a Response without its class being loaded, and every Response (also a subclass, or
//   one from fetch()) has the tag 'Response', so the tag is checked first; a value that has it
//   still gets the real instanceof check.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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

/**
 * The real mime-types copies (by path) the lazy wrappers load, each bundled after the main build
 * into its own CommonJS file, server/mime-types-N.cjs (all with one server/mime-db.cjs). Not in
 * the ESM chunks: bundled there, mime-db (~150 KB of source) sat in a chunk that every start
 * loads, because the wrappers' require() of it is static (~0.4 MB of idle RSS, issue 2).
 */
const realMimeTypes = new Map();

/** Arguments answered from the build-time table (what Koa and Hearth set); anything else loads mime-types. */
const CONTENT_TYPES = ['json', 'text', 'html', 'bin', 'application/json', 'text/plain', 'text/html', 'text/html; charset=utf-8', 'application/octet-stream'];
const LOOKUPS = ['json', 'text', 'html', 'bin'];
const lazyMimeTypes = {
  name: 'lazy-mime-types',
  setup(b) {
    b.onResolve({ filter: /^mime-types$/ }, async (args) => {
      if (args.pluginData === 'real') return undefined;
      const real = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: 'real' });
      if (real.errors.length) return { errors: real.errors };
      return { path: real.path, namespace: 'lazy-mime-types' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-mime-types' }, (args) => {
      const mime = createRequire(args.path)(args.path);
      const table = (fn, keys) => JSON.stringify(keys.map((k) => [k, fn(k)]));
      return {
        resolveDir: dirname(args.path),
        loader: 'js',
        // A variable, not a string literal, so that esbuild leaves this require to run time: it is
        // esbuild's __require, Node's require for the runtime chunk in server/ (checked below).
        contents: `let real;
const file = './mime-types-${mimeFileIndex(args.path)}.cjs';
const load = () => (real ??= require(file));
const contentTypes = new Map(${table(mime.contentType, CONTENT_TYPES)});
const lookups = new Map(${table(mime.lookup, LOOKUPS)});
exports.charset = (type) => load().charset(type);
exports.charsets = { lookup: (type) => load().charset(type) };
exports.contentType = (str) => (contentTypes.has(str) ? contentTypes.get(str) : load().contentType(str));
exports.extension = (type) => load().extension(type);
exports.lookup = (path) => (lookups.has(path) ? lookups.get(path) : load().lookup(path));
for (const key of ['extensions', 'types', '_extensionConflicts']) {
  Object.defineProperty(exports, key, { enumerable: true, get: () => load()[key] });
}
`,
      };
    });
  },
};

function mimeFileIndex(path) {
  if (!realMimeTypes.has(path)) realMimeTypes.set(path, realMimeTypes.size);
  return realMimeTypes.get(path);
}

const koaBodyChecks = {
  name: 'koa-body-checks',
  setup(b) {
    b.onLoad({ filter: /[\\/]koa[\\/]lib[\\/](response|application)\.js$/ }, (args) => {
      let n = 0;
      const src = readFileSync(args.path, 'utf8').replace(/\b(\w+) instanceof (Response|ReadableStream)\b/g, (check, v, cls) => {
        n++;
        return `(Object.prototype.toString.call(${v}) === '[object ${cls}]' && ${check})`;
      });
      if (n < 2) throw new Error(`koa-body-checks: the Response/ReadableStream checks moved in ${args.path}; review this patch for the new Koa`);
      return { contents: src, loader: 'js' };
    });
  },
};

/**
 * The other CLI commands (`hearth user`, `backup`, `setup`…) are a second bundle, dist/cli/NAME.mjs,
 * that cli.ts imports as external files. In one bundle with `serve`, every command was an entry
 * point of its own, and esbuild splits the modules `serve` starts with into a chunk per distinct
 * set of entry points that reach them: ~26 chunks at start. Each chunk import is an ESM
 * resolution (realpath and file-URL conversion of the path), and ~50 of them made Node's
 * normalizeString hot enough for TurboFan to compile it during start, which brings ~3.7 MB of
 * the node binary's compiler code into memory (issue 2: idle RSS; `node --trace-opt` shows it).
 * The two bundles never meet in one process: a command runs in its own (the errors that cross,
 * UsageError, are recognised by name in cli.ts).
 */
const CLI_COMMAND = /^\.\/cli\/([a-z-]+)\.ts$/;
const cliCommands = new Set();
const cliCommandsExternal = {
  name: 'cli-commands-external',
  setup(b) {
    b.onResolve({ filter: CLI_COMMAND }, (args) => {
      const name = CLI_COMMAND.exec(args.path)[1];
      if (!args.importer.endsWith('/server/cli.ts') || args.kind !== 'dynamic-import' || name === 'serve') return undefined;
      cliCommands.add(name);
      return { path: `./cli/${name}.mjs`, external: true };
    });
  },
};

const BANNER = "import { createRequire as __hearthCreateRequire } from 'node:module'; const require = __hearthCreateRequire(import.meta.url);";

/**
 * The banner goes into every chunk, but only esbuild's runtime chunk (its __require) and a few
 * others name `require`; in the rest, createRequire only costs time at load: it builds a Module
 * and its node_modules lookup paths, once per chunk loaded (also a cause of the TurboFan compile
 * above). A chunk whose code does not contain the word `require` (strings included) loses the
 * banner line, and its source map loses the banner's (empty) first line.
 */
function dropUnusedRequire(text) {
  if (!text.startsWith(`${BANNER}\n`) || /\brequire\b/.test(text.slice(BANNER.length))) return text;
  return text.slice(BANNER.length + 1);
}

// Every mime-types copy requires the one mime-db file (koa's, as singleCopy does for the chunks):
// Node loads it once, however many of the copies get loaded.
const sharedMimeDb = {
  name: 'shared-mime-db',
  setup(b) {
    b.onResolve({ filter: /^mime-db$/ }, () => ({ path: './mime-db.cjs', external: true }));
  },
};
const cjsBuild = (entry, outfile, plugins) =>
  build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    plugins,
    logLevel: 'warning',
  });

/** One ESM bundle with split chunks (in `chunkDir`, beside the real mime-types copies), written with the post-processing above. */
async function bundle({ entryPoints, outdir, chunkDir, plugins }) {
  const result = await build({
    entryPoints,
    outdir,
    entryNames: '[name]',
    chunkNames: `${chunkDir}/[name]-[hash]`,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    legalComments: 'none',
    minifyWhitespace: true,
    minifySyntax: true,
    plugins: [singleCopy, lazyMimeTypes, koaBodyChecks, ...plugins],
    external: ['sqlite3', 'sharp', 'playwright-core', 'matrix-js-sdk'],
    // CommonJS dependencies call require(); give the ESM bundle one (see dropUnusedRequire).
    banner: { js: BANNER },
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  const stripped = new Set();
  for (const f of result.outputFiles) {
    let text = f.text;
    if (f.path.endsWith('.mjs')) {
      const out = dropUnusedRequire(text);
      if (out !== text) stripped.add(`${f.path}.map`);
      text = out;
    }
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, text);
  }
  for (const map of stripped) {
    const m = JSON.parse(readFileSync(map, 'utf8'));
    if (m.mappings.startsWith(';')) m.mappings = m.mappings.slice(1);
    else if (m.mappings !== '') throw new Error(`build: ${map} maps the banner line; cannot drop it`);
    writeFileSync(map, JSON.stringify(m));
  }
  // The lazy mime-types wrappers require './mime-types-N.cjs' through esbuild's __require, which
  // resolves from the chunk that defines it: that must be in chunkDir, beside the files.
  const runtime = result.outputFiles.filter((f) => f.path.endsWith('.mjs') && f.text.includes('Dynamic require of "'));
  if (runtime.length > 1 || (runtime.length === 1 && dirname(runtime[0].path) !== `${outdir}/${chunkDir}`)) {
    throw new Error(`build: esbuild's require runtime is in ${runtime.map((f) => f.path).join(', ')}, not one chunk in ${outdir}/${chunkDir}`);
  }
  if (realMimeTypes.size) await cjsBuild(fromKoa.resolve('mime-db'), `${outdir}/${chunkDir}/mime-db.cjs`, []);
  for (const [path, n] of realMimeTypes) await cjsBuild(path, `${outdir}/${chunkDir}/mime-types-${n}.cjs`, [sharedMimeDb]);
  return result.metafile;
}

// `node scripts/build.mjs DIR`: only the server bundle, into DIR (benchmarks, experiments).
const outdir = resolve(process.argv[2] ?? `${root}/dist`);
rmSync(`${outdir}/server`, { recursive: true, force: true });
rmSync(`${outdir}/cli`, { recursive: true, force: true });

const metafile = await bundle({ entryPoints: { hearth: `${root}/server/cli.ts` }, outdir, chunkDir: 'server', plugins: [cliCommandsExternal] });
if (cliCommands.size === 0) throw new Error('build: cli.ts imports no command modules any more; review cliCommandsExternal');
await bundle({
  entryPoints: Object.fromEntries([...cliCommands].map((name) => [name, `${root}/server/cli/${name}.ts`])),
  outdir: `${outdir}/cli`,
  chunkDir: 'chunks',
  plugins: [],
});
if (process.env.HEARTH_BUILD_METAFILE) writeFileSync(process.env.HEARTH_BUILD_METAFILE, JSON.stringify(metafile));

if (!process.argv[2] && existsSync(`${root}/ui/vite.config.ts`) || existsSync(`${root}/ui/vite.config.js`)) {
  const r = spawnSync(process.execPath, [`${root}/node_modules/vite/bin/vite.js`, 'build', '--logLevel', 'warn'], {
    cwd: `${root}/ui`,
    stdio: 'inherit',
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
