/**
 * Probe: what a pipeline's LLVM compile costs on lavapipe as a function of its code. Tiny kernels,
 * each compiled alone on a fresh device with Gpu.precompile (no work runs), the time to the device
 * being idle. Turn Mesa's shader cache off, or the second round measures the cache:
 *
 *   MESA_SHADER_CACHE_DISABLE=true npx tsx bench/probe-floor.ts
 *
 * The first pipeline of a device also pays the device's first compile (shown as `first`).
 */
import { Gpu } from '../src/gpu/context.ts';
import { registerKernel } from '../src/gpu/shaders.ts';

const o = '@group(0) @binding(0) var<storage, read_write> o: array<f32>;';
const ov = '@group(0) @binding(0) var<storage, read_write> o: array<vec4<f32>>;';
const ab = (t: string) => `@group(0) @binding(1) var<storage, read> a: array<${t}>;
@group(0) @binding(2) var<storage, read> b: array<${t}>;
struct D { n: u32 }
@group(0) @binding(3) var<uniform> d: D;`;
const main = (wg: number, body: string) => `@compute @workgroup_size(${wg}) fn main(@builtin(global_invocation_id) g: vec3<u32>) { ${body} }`;
const KERNELS: [string, string, number][] = [
  ['first', `${o}\n${main(64, 'o[g.x] = 1.0;')}`, 1],
  ['empty body', `${o}\n${main(64, '_ = &o;')}`, 1],
  ['one f32 store', `${o}\n${main(64, 'o[g.x] = 1.0;')}`, 1],
  ['one f32 store, workgroup 1', `${o}\n${main(1, 'o[g.x] = 1.0;')}`, 1],
  ['o = a + b, f32', `${o}\n${ab('f32')}\n${main(256, 'if (g.x >= d.n) { return; } o[g.x] = a[g.x] + b[g.x];')}`, 4],
  ['o = a + b, vec4', `${ov}\n${ab('vec4<f32>')}\n${main(256, 'if (g.x >= d.n) { return; } o[g.x] = a[g.x] + b[g.x];')}`, 4],
  ['o = a, vec4', `${ov}\n${ab('vec4<f32>')}\n${main(256, 'o[g.x] = a[g.x]; _ = &b; _ = &d;')}`, 4],
];
const rounds: number[][] = KERNELS.map(() => []);
for (let r = 0; r < 3; r++) {
  const gpu = await Gpu.create({ compileHelper: false });
  for (let i = 0; i < KERNELS.length; i++) {
    const [, code, bindings] = KERNELS[i];
    const kernel = `floor_${r}_${i}`; // a new module each round: nothing cached in the process
    registerKernel(kernel, code);
    const t0 = performance.now();
    gpu.precompile({ kernel, entry: 'main', constants: {}, defines: {}, bindingBytes: [1024, 1024, 1024, 16].slice(0, bindings) });
    await gpu.sync();
    rounds[i].push(performance.now() - t0);
  }
  gpu.destroy();
}
KERNELS.forEach(([name], i) => console.log(`${name.padEnd(28)} ${rounds[i].map((t) => t.toFixed(0).padStart(4)).join(' ')} ms`));
process.exit(0);
