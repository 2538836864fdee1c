#!/usr/bin/env node
// The installed `hearth` command: runs the esbuild bundle (dist/), which starts ~40% faster
// from an SD card than loading hundreds of module files (see scripts/bench/startup.ts).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/hearth.mjs', import.meta.url);
if (!existsSync(bundle)) {
  console.error('hearth: dist/hearth.mjs is missing; run `npm run build` (npm install does it)');
  process.exit(1);
}
const { runCli } = await import(bundle.href);
runCli();
