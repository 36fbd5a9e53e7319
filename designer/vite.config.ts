import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The server (jailwf serve) serves dist/ at / and the API under /api; `npm run dev` proxies /api to it.
export default defineConfig({
  plugins: [react()],
  base: './',
  build: { chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/api': 'http://127.0.0.1:5080' } },
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
  },
});
