import { defineConfig } from 'vitest/config'
import react from '@vitejs/plugin-react'
import { precompress } from './precompress.mjs'

// The Python server serves dist/index.html for the app's pages and dist/assets/* as files.
export default defineConfig({
  plugins: [react(), precompress()], // precompress: .br/.gz twins of each asset
  base: '/',
  build: { outDir: 'dist', assetsDir: 'assets', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8000',
      '/sync': { target: 'ws://127.0.0.1:8000', ws: true },
    },
  },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
})
