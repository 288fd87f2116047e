import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Django serves the built files from frontend/dist through whitenoise under /static/,
// and index.html for every non-API path, so asset URLs must start with /static/.
export default defineConfig({
  base: "/static/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
    globals: true,
  },
});
