/**
 * Probe (bench/README.md, "What the subgroup kernel rests on"): the cost on this adapter of a vec4
 * subgroupBroadcast from a constant lane, a subgroupShuffle from a rolled loop's counter or from a
 * per-iteration lane, a storage load at a subgroup-uniform address, and a subgroupAdd (a sum over
 * the subgroup) from a rolled or an unrolled loop, each 8 per iteration of a
 * loop whose own load and add is timed alone as "none". Needs the 'subgroups' feature.
 *
 *   node bench/probe-shuffle.mjs
 */
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice({ requiredFeatures: ['subgroups'] });
const ITER = 4096, WGS = 64, GROUPS = 64;
const body = {
  bcast: `for (var i = 0u; i < n; i++) { let x = src[(i * 8u + l) & 1023u];
    acc += subgroupBroadcast(x, 0u) + subgroupBroadcast(x, 1u) + subgroupBroadcast(x, 2u) + subgroupBroadcast(x, 3u)
         + subgroupBroadcast(x, 4u) + subgroupBroadcast(x, 5u) + subgroupBroadcast(x, 6u) + subgroupBroadcast(x, 7u); }`,
  shuffle: `for (var i = 0u; i < n; i++) { let x = src[(i * 8u + l) & 1023u];
    for (var j = 0u; j < m; j++) { acc += subgroupShuffle(x, j); } }`,
  shuffle_unrolled: `for (var i = 0u; i < n; i++) { let x = src[(i * 8u + l) & 1023u]; let j = i & 7u;
    acc += subgroupShuffle(x, j) + subgroupShuffle(x, (j + 1u) & 7u) + subgroupShuffle(x, (j + 2u) & 7u) + subgroupShuffle(x, (j + 3u) & 7u)
         + subgroupShuffle(x, (j + 4u) & 7u) + subgroupShuffle(x, (j + 5u) & 7u) + subgroupShuffle(x, (j + 6u) & 7u) + subgroupShuffle(x, (j + 7u) & 7u); }`,
  load: `for (var i = 0u; i < n; i++) { let x = src[(i * 8u + l) & 1023u];
    for (var j = 0u; j < m; j++) { acc += src[(i * 8u + j) & 1023u]; } acc += x; }`,
  add: `for (var i = 0u; i < n; i++) { let x = src[(i * 8u + l) & 1023u];
    for (var j = 0u; j < m; j++) { acc += subgroupAdd(x * f32(j)); } }`,
  add_unrolled: `for (var i = 0u; i < n; i++) { let x = src[(i * 8u + l) & 1023u];
    acc += subgroupAdd(x) + subgroupAdd(x * 2.0) + subgroupAdd(x * 3.0) + subgroupAdd(x * 4.0)
         + subgroupAdd(x * 5.0) + subgroupAdd(x * 6.0) + subgroupAdd(x * 7.0) + subgroupAdd(x * 8.0); }`,
  none: `for (var i = 0u; i < n; i++) { let x = src[(i * 8u + l) & 1023u]; acc += x; }`,
};
for (const [name, b] of Object.entries(body)) {
  const code = `enable subgroups;
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> nm: vec4<u32>;
@compute @workgroup_size(${WGS}) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(subgroup_invocation_id) l: u32) {
  let n = nm.x; let m = nm.y; var acc = vec4<f32>(0.0);
  ${b}
  dst[g.x] = acc;
}`;
  const mod = device.createShaderModule({ code });
  const info = await mod.getCompilationInfo(); for (const m of info.messages) console.log(name, m.message);
  const p = device.createComputePipeline({ layout: 'auto', compute: { module: mod, entryPoint: 'main' } });
  const src = device.createBuffer({ size: 1024 * 16, usage: GPUBufferUsage.STORAGE });
  const dst = device.createBuffer({ size: WGS * GROUPS * 16, usage: GPUBufferUsage.STORAGE });
  const u = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(u, 0, new Uint32Array([ITER, 8, 0, 0]));
  const bg = device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [src, dst, u].map((x, i) => ({ binding: i, resource: { buffer: x } })) });
  const run = async () => { const e = device.createCommandEncoder(); const c = e.beginComputePass(); c.setPipeline(p); c.setBindGroup(0, bg); c.dispatchWorkgroups(GROUPS); c.end(); device.queue.submit([e.finish()]); await device.queue.onSubmittedWorkDone(); };
  await run();
  const ts = [];
  for (let r = 0; r < 7; r++) { const s = performance.now(); await run(); ts.push(performance.now() - s); }
  ts.sort((a, b) => a - b);
  const sgops = (WGS * GROUPS / 8) * ITER * 8; // subgroup-level vec4 ops of the inner 8
  console.log(`${name.padEnd(17)} ${ts[3].toFixed(2)} ms  ${(ts[3] * 1e6 / sgops).toFixed(2)} ns per subgroup vec4 op (x8 per iteration)`);
}
process.exit(0);
