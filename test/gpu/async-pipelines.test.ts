/**
 * Pipelines made off the main thread (AcquireOptions.asyncPipelines, the default): a dispatch whose
 * pipeline is still being made is kept and encoded later, and everything recorded after it waits
 * with it, so the GPU sees the program's order either way: at submit (after the pipeline is made)
 * or at a write, which makes it at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpu } from '../../src/gpu/context.ts';
import { registerKernel } from '../../src/gpu/shaders.ts';
import { GPUValidationError, ShaderCompileError } from '../../src/errors.ts';

const N = 100;
// y += s * x, elementwise
registerKernel('axpy_async', `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
override s: f32 = 2.0;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < arrayLength(&y)) { y[g.x] = y[g.x] + s * x[g.x]; }
}`);

// a WGSL error: no f32 + bool
registerKernel('broken_async', `
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(1) fn main() { x[0] = 1.0 + true; }`);

const ramp = (f: (i: number) => number) => Float32Array.from({ length: N }, (_, i) => f(i));

describe('pipelines made off the main thread', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await Gpu.create({ compileHelper: false });
  });
  afterAll(() => gpu.destroy());

  it('a write in the middle of recording lands after the dispatches before it, whose pipelines are still being made', async () => {
    const x = gpu.tensor([N], ramp((i) => i));
    const y = gpu.tensor([N], ramp(() => 1));
    const z = gpu.tensor([N]);
    const before = gpu.stats().pipelines;
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 2 } }); // y = 1 + 2i
    // not made yet: the dispatch is kept, not encoded
    expect(gpu.stats().pipelines).toBe(before);
    gpu.copy(z, y); // z = 1 + 2i: after the dispatch, though its pipeline is not there yet
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 2 } }); // y = 1 + 4i
    gpu.write(x, ramp(() => 100)); // lands after both dispatches
    expect(gpu.stats().pipelines).toBe(before + 1); // the write made the pipeline at once
    gpu.dispatch('axpy_async', 'main', [z, x], [2], { constants: { s: 2 } }); // z = 201 + 2i
    expect(Array.from(await gpu.read(y))).toEqual(Array.from(ramp((i) => 1 + 4 * i)));
    expect(Array.from(await gpu.read(z))).toEqual(Array.from(ramp((i) => 201 + 2 * i)));
    gpu.release(x, y, z);
  });

  it('a write after a dispatch that went into an open pass and one kept for its pipeline submits both, in order', async () => {
    const x = gpu.tensor([N], ramp((i) => i));
    const y = gpu.tensor([N], ramp(() => 0));
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 11 } });
    await gpu.submit(); // that pipeline is made: y = 11i
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 11 } }); // encoded at once, in an open pass: y = 22i
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 12 } }); // kept for its pipeline: y = 34i
    gpu.write(x, ramp(() => 0)); // submits both first
    expect(Array.from(await gpu.read(y))).toEqual(Array.from(ramp((i) => 34 * i)));
    gpu.release(x, y);
  });

  it('submit waits for the pipelines being made, then encodes the kept commands in order', async () => {
    const x = gpu.tensor([N], ramp((i) => i % 7));
    const y = gpu.tensor([N], ramp(() => 5));
    const before = gpu.stats().pipelines;
    gpu.zero(y); // y = 0 (encoded at once: nothing is kept yet)
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 3 } }); // a new pipeline: y = 3x
    gpu.zero(y); // kept behind the dispatch: y = 0
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: -1 } }); // another: y = -x
    expect(gpu.stats().pipelines).toBe(before);
    await gpu.submit();
    expect(gpu.stats().pipelines).toBe(before + 2);
    expect(Array.from(await gpu.read(y))).toEqual(Array.from(ramp((i) => 0 - (i % 7))));
    gpu.release(x, y);
  });

  it('a bad binding of a dispatch kept for its pipeline fails that submit, not the next', async () => {
    registerKernel('needs16_async', `
@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>, 4>;
@compute @workgroup_size(1) fn main() { x[0] = vec4<f32>(1.0); }`);
    const small = gpu.tensor([1]);
    gpu.dispatch('needs16_async', 'main', [small], [1]);
    await expect(gpu.submit()).rejects.toThrow(GPUValidationError);
    // the next submission is clean
    const y = gpu.tensor([4], new Float32Array(4).fill(3));
    expect(Array.from(await gpu.read(y))).toEqual([3, 3, 3, 3]);
    gpu.release(small, y);
  });

  it('a WGSL error in a pipeline being made fails that submit with ShaderCompileError, and the next submit is clean', async () => {
    const t = gpu.tensor([4], new Float32Array(4).fill(5));
    gpu.zero(t); // recorded before the broken dispatch: dropped with it
    gpu.dispatch('broken_async', 'main', [t], [1]);
    const err = await gpu.submit().catch((e) => e);
    expect(err).toBeInstanceOf(ShaderCompileError);
    expect((err as ShaderCompileError).messages[0].sourceLine).toContain('1.0 + true');
    expect(Array.from(await gpu.read(t))).toEqual([5, 5, 5, 5]);
    gpu.release(t);
  });

  it('submissions reach the queue in call order: two reads at once after a dispatch whose pipeline is being made', async () => {
    const x = gpu.tensor([N], ramp((i) => i));
    const y = gpu.tensor([N], ramp(() => 1));
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 5 } }); // new pipeline: y = 1 + 5i
    const readY = gpu.read(y); // waits for the pipeline
    const w = gpu.tensor([N], ramp(() => 1));
    gpu.dispatch('axpy_async', 'main', [x, w], [2], { constants: { s: 1 } }); // another new pipeline: x = i + 1, after the first read
    const readX = gpu.read(x); // must not reach the queue before the first read's work (y would be 1 + 5 (i + 1))
    const [gotY, gotX] = await Promise.all([readY, readX]);
    expect(Array.from(gotY)).toEqual(Array.from(ramp((i) => 1 + 5 * i)));
    expect(Array.from(gotX)).toEqual(Array.from(ramp((i) => i + 1)));
    gpu.release(x, y, w);
  });

  it('a write and a release while a submit still waits for a pipeline land after its work', async () => {
    const x = gpu.tensor([N], ramp((i) => i));
    const y = gpu.tensor([N], ramp(() => 0));
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 7 } }); // new pipeline: y = 7i
    const submitted = gpu.submit();
    gpu.write(x, ramp(() => 1000)); // after the dispatch, though it is not on the queue yet
    const z = gpu.tensor([N], ramp((i) => i));
    gpu.dispatch('axpy_async', 'main', [y, z], [2], { constants: { s: 7 } }); // y = 14i
    gpu.release(z); // destroyed after the dispatch that reads it
    await submitted;
    expect(Array.from(await gpu.read(y))).toEqual(Array.from(ramp((i) => 14 * i)));
    expect(Array.from(await gpu.read(x))).toEqual(Array.from(ramp(() => 1000)));
    gpu.release(x, y);
  });

  it("a failed submission nobody waits for loses only its own work: a later one's dispatches run, and the next submit throws its error", async () => {
    const x = gpu.tensor([N], ramp((i) => i));
    const y = gpu.tensor([N], ramp(() => 0));
    const t = gpu.tensor([N]), t2 = gpu.tensor([N]);
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 21 } }); // new pipeline: y = 21i
    const first = gpu.submit(); // waits for it
    gpu.dispatch('broken_async', 'main', [t], [1]);
    gpu.write(t, ramp(() => 1)); // submits the broken dispatch behind the first: nobody waits for it
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 22 } }); // y = 43i
    gpu.write(t2, ramp(() => 2)); // submits that behind the broken one: nobody waits for it either
    await first;
    const err = await gpu.submit().catch((e) => e);
    expect(err).toBeInstanceOf(ShaderCompileError);
    await gpu.submit(); // clean
    expect(Array.from(await gpu.read(y))).toEqual(Array.from(ramp((i) => 43 * i)));
    expect(Array.from(await gpu.read(t2))).toEqual(Array.from(ramp(() => 2)));
    gpu.release(x, y, t, t2);
  });

  it('profiling: dispatches recorded while a submit waits are timed, in queue order', async () => {
    expect(gpu.canProfile).toBe(true); // lavapipe and SwiftShader both have timestamp-query
    const x = gpu.tensor([1 << 16], new Float32Array(1 << 16).fill(1));
    const y = gpu.tensor([1 << 16]);
    const wg = [(1 << 16) / 64] as [number];
    gpu.dispatch('axpy_async', 'main', [y, x], wg, { constants: { s: 31 } });
    await gpu.submit(); // s = 31 is made
    gpu.startProfile();
    gpu.dispatch('axpy_async', 'main', [y, x], wg, { constants: { s: 32 }, label: 'A' }); // new: kept
    const first = gpu.submit(); // waits for it
    gpu.dispatch('axpy_async', 'main', [y, x], wg, { constants: { s: 31 }, label: 'B' }); // made already
    gpu.dispatch('axpy_async', 'main', [y, x], wg, { constants: { s: 33 }, label: 'C' }); // new: kept
    await first;
    const prof = await gpu.stopProfile();
    for (const label of ['A', 'B', 'C']) {
      expect(prof.get(label)?.count, label).toBe(1);
      expect(prof.get(label)!.ms, label).toBeGreaterThan(0);
    }
    gpu.release(x, y);
  });

  it('profiling: a dispatch recorded after stopProfile() is called, before it returns, is not timed, and runs', async () => {
    const x = gpu.tensor([N], ramp((i) => i));
    const y = gpu.tensor([N], ramp(() => 0));
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 41 } });
    await gpu.submit(); // s = 41 is made: y = 41i
    gpu.zero(y);
    gpu.startProfile();
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 41 }, label: 'D' }); // y = 41i
    const stopped = gpu.stopProfile(); // not awaited yet
    gpu.dispatch('axpy_async', 'main', [y, x], [2], { constants: { s: 41 }, label: 'E' }); // y = 82i
    const prof = await stopped;
    expect(prof.get('D')?.count).toBe(1);
    expect(prof.has('E')).toBe(false);
    expect(Array.from(await gpu.read(y))).toEqual(Array.from(ramp((i) => 82 * i)));
    gpu.release(x, y);
  });

  it('asyncPipelines: false makes each pipeline where it is first used', async () => {
    const g2 = await Gpu.create({ compileHelper: false, asyncPipelines: false });
    try {
      const x = g2.tensor([N], ramp((i) => i));
      const y = g2.tensor([N]);
      g2.dispatch('axpy_async', 'main', [y, x], [2]);
      expect(g2.stats().pipelines).toBe(1);
      expect(Array.from(await g2.read(y))).toEqual(Array.from(ramp((i) => 2 * i)));
    } finally {
      g2.destroy();
    }
  });
});
