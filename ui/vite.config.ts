import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The tapak binary embeds dist/ and serves it at "/", falling back to index.html for unknown GET paths.
// During development, `npm run dev` proxies /api to a running tapak (TAPAK_URL) or to dev-mock (npm run mock).
const target = process.env.TAPAK_URL ?? "http://127.0.0.1:8090";

export default defineConfig({
  plugins: [preact()],
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    target: "es2020",
    // Everything is bundled: no CDN, no external fonts, no runtime fetches outside /api.
    assetsInlineLimit: 4096,
  },
  server: {
    proxy: {
      "/api": { target, changeOrigin: false },
    },
  },
});
