/**
 * Kernel sizes in small uniform buffers instead of override constants, so that ONE pipeline per
 * entry point serves every shape: a model compiles each kernel once, and changing B, T or the
 * model's width compiles nothing new. On CPU adapters a pipeline compile costs 0.1-3 s (lavapipe
 * builds LLVM code when it first runs a pipeline), which dominates the time to a first step.
 *
 * A kernel declares its sizes as a uniform struct of u32 words (optionally followed by f32
 * words) and the wrapper binds `dims(gpu, [...u32], [...f32])`. Buffers are cached per device
 * by content and written once, so a training step creates and writes nothing.
 */
import type { Gpu } from '../gpu/context.ts';

const cache = new WeakMap<Gpu, Map<string, GPUBuffer>>();

/**
 * A uniform buffer holding the u32 words `u` then the f32 words `f` (WGSL: a struct of u32 then
 * f32 members, in that order), padded to a multiple of 16 bytes. Cached per device by content;
 * never written again (so it is safe to bind in any number of recorded dispatches).
 */
export function dims(gpu: Gpu, u: readonly number[], f: readonly number[] = []): GPUBuffer {
  let byKey = cache.get(gpu);
  if (!byKey) cache.set(gpu, (byKey = new Map()));
  const key = f.length ? `${u.join(',')}|${f.join(',')}` : u.join(',');
  let buf = byKey.get(key);
  if (!buf) {
    const words = Math.max(4, Math.ceil((u.length + f.length) / 4) * 4);
    const data = new Uint32Array(words);
    u.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`dims: ${v} is not a u32`);
      data[i] = v;
    });
    new Float32Array(data.buffer).set(f, u.length);
    buf = gpu.createBuffer(data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `dims ${key}`);
    // a new buffer: nothing recorded can read it yet, so a queue write (landing before the next
    // submit) is in order with every dispatch that binds it
    gpu.device.queue.writeBuffer(buf, 0, data);
    byKey.set(key, buf);
  }
  return buf;
}
