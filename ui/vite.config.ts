// The wizard and dashboard: a Svelte 5 single-page app built into dist/ui, served by Hearth.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  base: '/',
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    sourcemap: false,
  },
  server: {
    // `npx vite` in ui/ for UI work: API calls go to a Hearth on :8008.
    proxy: { '/_hearth': 'http://127.0.0.1:8008', '/_matrix': 'http://127.0.0.1:8008', '/.well-known': 'http://127.0.0.1:8008' },
  },
});
