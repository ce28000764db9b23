#!/usr/bin/env node
/**
 * Packs what a bare Linux x86-64 machine with a GPU (and no network) needs to run wgpt's GPU
 * checks and benchmarks on it, into .gpu-kit/ (git-ignored):
 *
 *   js/cases.mjs   every kernel case (test/run-cases.ts)     js/bench.mjs  npm run bench (bench/run.ts)
 *   js/train.mjs   bench/train.ts (its --first-step child)   js/cli.mjs    the wgpt CLI (src/cli/main.ts)
 *   node_modules/webgpu/   Dawn for Node, linux-x64 (.xz)    node.xz       this machine's node binary
 *   sotu.txt.xz    the default pre-training corpus          deb/          the Vulkan loader and libglvnd
 *
 * Run scripts/real-gpu/run.sh there (from the repository root, with .gpu-kit copied along).
 * The bundles are made by esbuild (tsx's) with `webgpu` left external: its native dawn.node is
 * loaded from node_modules/webgpu/ beside them.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const kit = join(root, '.gpu-kit');
const step = (s) => process.stderr.write(`pack: ${s}\n`);

execFileSync(process.execPath, [join(root, 'scripts', 'gen-shaders.mjs')], { stdio: 'inherit' });
mkdirSync(join(kit, 'js'), { recursive: true });

// tfjs's gradients are registered from its unbundled ES build through require() at run time
// (bench/tfjs.ts); in a bundle that file must be imported statically instead.
const tfjsGradients = {
  name: 'tfjs-gradients',
  setup(b) {
    b.onLoad({ filter: /bench[\\/]tfjs\.ts$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const call = "createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/register_all_gradients.js');";
      if (!src.includes(call)) throw new Error(`${args.path}: the gradients require() this plugin replaces is gone; update scripts/real-gpu/pack.mjs`);
      return { contents: src.replace(call, "await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');"), loader: 'ts' };
    });
  },
};

step('bundling');
await build({
  entryPoints: {
    cases: join(root, 'test/run-cases.ts'),
    bench: join(root, 'bench/run.ts'),
    train: join(root, 'bench/train.ts'),
    cli: join(root, 'src/cli/main.ts'),
  },
  outdir: join(kit, 'js'),
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  plugins: [tfjsGradients],
  // CommonJS dependencies call require(); ES module output has none unless we make one.
  banner: { js: "import { createRequire as __wgptRequire } from 'node:module'; const require = __wgptRequire(import.meta.url);" },
  logLevel: 'warning',
});
// src/cli/main.ts runs main() only when bin/wgpt.js marks the process as the CLI.
writeFileSync(join(kit, 'js', 'wgpt.mjs'), "globalThis.__WGPT_CLI__ = true;\nawait import('./cli.mjs');\n");

step('webgpu (Dawn for Node, linux-x64)');
const wg = join(root, 'node_modules', 'webgpu');
const wgOut = join(kit, 'node_modules', 'webgpu');
rmSync(wgOut, { recursive: true, force: true });
mkdirSync(join(wgOut, 'dist', 'linux-x64'), { recursive: true });
for (const f of ['package.json', 'index.js']) cpSync(join(wg, f), join(wgOut, f));
// xz-compressed, like node and the corpus: what travels to a device machine is size-limited (run.sh unpacks).
execFileSync('sh', ['-c', `xz -T0 -6 -c "${join(wg, 'dist', 'linux-x64', 'dawn.node')}" > "${join(wgOut, 'dist', 'linux-x64', 'dawn.node.xz')}"`]);

if (!existsSync(join(kit, 'node.xz'))) {
  step(`node ${process.version} (${process.execPath}), xz`);
  execFileSync('sh', ['-c', `xz -T0 -6 -c "${process.execPath}" > "${join(kit, 'node.xz')}"`], { stdio: 'inherit' });
}

step('corpus');
execFileSync(process.execPath, ['--import', 'tsx', '-e',
  `import('${join(root, 'src/data/corpus-node.ts')}').then(async (m) => require('node:fs').writeFileSync('${join(kit, 'sotu.txt')}', await m.loadSotuCorpus()))`], { stdio: 'inherit' });
execFileSync('xz', ['-f', '-T0', join(kit, 'sotu.txt')]);

// The Vulkan loader, and libglvnd: NVIDIA's Vulkan ICD is libGLX_nvidia, which needs
// libGLdispatch (without it: "Could not get 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr'").
const DEBS = ['libvulkan1', 'libglvnd0', 'libglx0', 'libgl1', 'libegl1', 'libopengl0', 'libgles2'];
if (!existsSync(join(kit, 'deb', '.complete'))) {
  step(`${DEBS.join(' ')} (.deb, amd64)`);
  mkdirSync(join(kit, 'deb'), { recursive: true });
  execFileSync('apt-get', ['download', ...DEBS.map((d) => `${d}:amd64`)], { cwd: join(kit, 'deb'), stdio: 'inherit' });
  writeFileSync(join(kit, 'deb', '.complete'), DEBS.join('\n') + '\n');
}
step(`done: ${execFileSync('du', ['-sh', kit], { encoding: 'utf8' }).trim()}`);
