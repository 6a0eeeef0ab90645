import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// `vite` (dev) proxies the API to a node started with `pursuance node start` (default port 7878);
// `vite build` writes dist/, which the node serves at / (apps/node/src/http/static.ts).
const NODE = `http://127.0.0.1:${process.env.PURSUANCE_PORT ?? '7878'}`;

export default defineConfig({
  plugins: [vue()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 800 },
  server: {
    proxy: {
      '/api': {
        target: NODE,
        // The node accepts only its own Host and Origin (no DNS rebinding, no cross-site calls).
        changeOrigin: true,
        configure: (proxy) => proxy.on('proxyReq', (req) => req.getHeader('origin') && req.setHeader('origin', NODE)),
      },
    },
  },
});
