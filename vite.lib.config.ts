// Library build: dist/wgpt.js (the ES module, shaders embedded) and dist/cli.js (the `wgpt` command).
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2022',
    sourcemap: true,
    minify: false,
    lib: {
      entry: { wgpt: 'src/index.ts', cli: 'src/cli/main.ts', node: 'src/node.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      external: [/^node:/, 'webgpu', /^@stdlib\//, /^gpt-tokenizer/],
    },
  },
});
