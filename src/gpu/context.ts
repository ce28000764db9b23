/**
 * Gpu: one WebGPU device plus what every kernel needs around it.
 *
 *  - a pipeline cache keyed by (kernel, entry point, override constants, template defines)
 *  - buffer creation with counters (count and bytes alive) so leaks are testable
 *  - a bind-group cache, so a training step creates no bind groups after the first
 *  - a command encoder that records many dispatches into one compute pass; `submit()` sends them
 *  - readback, and errors surfaced as typed exceptions (shader compile, validation, device lost)
 */
import { DeviceLostError, GPUValidationError, LimitError, ShaderCompileError, ShapeError, type ShaderMessage } from '../errors.ts';
import { acquireDevice, wantsCompileHelper, type AcquireOptions, type AcquiredDevice, type AdapterReport } from './device.ts';
import { numel, type DType, type Tensor } from './tensor.ts';
import { shaderSource } from './shaders.ts';

export type Constants = Record<string, number | boolean>;
export type Defines = Record<string, number | boolean | string>;

/** A binding: a whole tensor (offset/size taken from it) or a raw buffer. */
export type Binding = Tensor | GPUBuffer;

export interface DispatchOptions {
  /** Override constants (WGSL `override`). */
  constants?: Constants;
  /** Template defines for the preprocessor (`${NAME}` in the .wgsl source). */
  defines?: Defines;
  /** Name shown in profiles. Defaults to the entry point. */
  label?: string;
}

export interface MemoryStats { buffers: number; bytes: number; pipelines: number; bindGroups: number }

/** A pipeline's first use: what precompile() needs to compile the same pipeline elsewhere. */
export interface PipelineUse {
  kernel: string;
  entry: string;
  constants: Constants;
  defines: Defines;
  /** byte size of each binding, in binding order */
  bindingBytes: number[];
}

/**
 * What the compile helper did (see Gpu.create): pipelines handed to it (first used in a
 * submission), compiled by it, skipped (the submission that needed them had finished first), and
 * failed (an error on the helper device; the pipeline is then compiled where it runs, as usual).
 */
export interface CompileHelperStats {
  /** a helper was asked for (AcquireOptions.compileHelper and the adapter) */
  enabled: boolean;
  /** its device was made (false until then, and if making it failed) */
  ready: boolean;
  handed: number;
  compiled: number;
  skipped: number;
  failed: number;
}

/** Bytes a binding covers: a tensor's elements (at least one word), or a whole raw buffer. */
function bindingBytes(b: Binding): number {
  return (b as Tensor).buffer ? Math.max(4, (b as Tensor).size * 4) : (b as GPUBuffer).size;
}

/** The pipeline cache key: (kernel, entry point, override constants, template defines). */
function pipelineKey(kernel: string, entry: string, constants: Constants, defines: Defines): string {
  return `${kernel}:${entry}:${JSON.stringify(constants)}:${JSON.stringify(defines)}`;
}

function useKey(u: PipelineUse): string {
  return pipelineKey(u.kernel, u.entry, u.constants, u.defines);
}

function pipelineDescriptor(kernel: string, entry: string, constants: Constants, module: GPUShaderModule): GPUComputePipelineDescriptor {
  const numeric: Record<string, number> = {};
  for (const [k, v] of Object.entries(constants)) numeric[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  return { layout: 'auto', label: `${kernel}.${entry}`, compute: { module, entryPoint: entry, constants: numeric } };
}

/** A pipeline's failure as a typed error: the shader's own errors with their lines, else the device's message. */
async function pipelineError(kernel: string, entry: string, constants: Constants, module: GPUShaderModule, code: string, message: string): Promise<Error> {
  const info = await module.getCompilationInfo();
  const lines = code.split('\n');
  const msgs: ShaderMessage[] = info.messages
    .filter((m) => m.type === 'error')
    .map((m) => ({ type: m.type, line: m.lineNum, column: m.linePos, message: m.message, sourceLine: lines[m.lineNum - 1] ?? '' }));
  if (msgs.length) return new ShaderCompileError(kernel, msgs);
  return new GPUValidationError(`pipeline ${kernel}.${entry} ${JSON.stringify(constants)}`, message);
}

/** A bind group's cache key and entries, worked out when its dispatch is recorded. */
interface BindingPlan { key: string; entries: GPUBindGroupEntry[]; ids: number[] }

/** Placeholder bindings of precompile(): one buffer per binding slot, bound up to this many bytes. */
const PLACEHOLDER_BYTES = 65536;

const BYTES: Record<DType, number> = { f32: 4, i32: 4, u32: 4 };

/** Usage of tensor buffers (a function: GPUBufferUsage is a global only once WebGPU is loaded). */
export const TENSOR_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Dispatches timed by one query set (2 timestamps each; WebGPU caps a query set at 4096). */
const PROFILE_SET = 2048;
/** Dispatches that can be timed between two submits while profiling (query sets made as needed). */
const PROFILE_CAPACITY = 64 * PROFILE_SET;

export class Gpu {
  readonly device: GPUDevice;
  readonly report: AdapterReport;
  readonly limits: Record<string, number>;
  /** Resolves when the device is lost. */
  readonly lost: Promise<GPUDeviceLostInfo>;
  lostInfo: GPUDeviceLostInfo | null = null;
  /**
   * Default kernel choices per kernel family, merged under each call's own options (the call
   * wins): `attention` takes AttentionOptions, `matmul` the choice options of
   * BatchedMatmulOptions (kernel, splitK, subgroups, kMajor, transposedC; never shapes). For
   * benchmarks that compare kernel variants inside whole training steps (bench/step-ab.ts) and
   * tests of the choices. Empty normally, so every kernel picks for the adapter.
   */
  kernelDefaults: { attention?: Record<string, unknown>; matmul?: Record<string, unknown> } = {};

  private readonly acquired: AcquiredDevice;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /**
   * Pipelines being made off the main thread (createComputePipelineAsync), by the same key: each
   * settles when its pipeline is in the cache, or with its typed error.
   */
  private readonly making = new Map<string, Promise<void>>();
  /**
   * Commands recorded while a pipeline they use (or one before them) is still being made: run
   * in order into the encoder once it is there (submit, or at once by flushRecorded).
   */
  private deferred: (() => void)[] | null = null;
  /** The last submission, settled (never rejects): the next one reaches the queue after it. */
  private queueTail: Promise<void> = Promise.resolve();
  /** submit() calls that have not reached the queue yet */
  private submitting = 0;
  /**
   * Errors of submissions no caller waits for (started by write() or release() behind a waiting
   * submit): thrown by the next submit() called after them, once its own work is on the queue.
   */
  private readonly orphanErrors: { error: unknown; call: number }[] = [];
  /** submit calls so far, callers' and behindSubmits' alike (orders orphanErrors against callers) */
  private submitCalls = 0;
  /** Buffers destroyed behind a waiting submit: bind groups made for that submit are not cached. */
  private readonly released = new WeakSet<GPUBuffer>();
  private readonly pendingChecks: Promise<void>[] = [];
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private readonly bindGroupsByBuffer = new Map<number, Set<string>>();
  private nextBufferId = 1;
  private liveBuffers = new Map<GPUBuffer, number>(); // buffer -> bytes
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private uncaptured: GPUError[] = [];
  /** first uses of pipelines, in order; those from `handed` on are not yet given to the helper */
  private readonly uses: PipelineUse[] = [];
  private handed = 0;
  private helper: Promise<Gpu | null> | null = null;
  private helperWork: Promise<void> = Promise.resolve();
  private helperReady = false;
  private readonly helperCounts = { handed: 0, compiled: 0, skipped: 0, failed: 0 };
  private destroyed = false;
  private placeholders: GPUBuffer[] = [];
  private zeroArgs: GPUBuffer | null = null;
  /**
   * Make new pipelines off the main thread (createComputePipelineAsync), keeping the dispatches
   * that need them until submit (see makePipeline); false makes each one where it is first used
   * (createComputePipeline). From AcquireOptions.asyncPipelines (default true).
   */
  asyncPipelines: boolean;
  /** Number of dispatches recorded since creation (for tests and profiles). */
  dispatchCount = 0;
  /** Number of command-buffer submissions since creation. */
  submitCount = 0;

  private constructor(acquired: AcquiredDevice, opts: AcquireOptions) {
    this.acquired = acquired;
    this.asyncPipelines = opts.asyncPipelines ?? true;
    this.device = acquired.device;
    this.report = acquired.report;
    this.limits = acquired.report.limits;
    this.lost = this.device.lost.then((info) => {
      this.lostInfo = info;
      return info;
    });
    this.device.addEventListener?.('uncapturederror', (ev: any) => {
      this.uncaptured.push(ev.error);
    });
  }

  /**
   * Acquire a device (browser or Node) and wrap it.
   *
   * On lavapipe in Node (see `compileHelper` in AcquireOptions) a second device of the same
   * adapter comes with it, a compile helper: lavapipe compiles a pipeline with LLVM when it first
   * runs, one after another on the device's queue thread, so a cold first training step waits for
   * some twenty compiles in a row. When a submission holds pipelines that run for the first time,
   * the helper compiles them too, last one first, while this device works through them from the
   * first; the helper's LLVM code reaches this device through Mesa's on-disk shader cache, and the
   * two meet in the middle. Nothing else runs on the helper.
   */
  static async create(opts: AcquireOptions = {}): Promise<Gpu> {
    const gpu = new Gpu(await acquireDevice(opts), opts);
    if (await wantsCompileHelper(gpu.report, opts)) {
      // not awaited: the helper's device is made while the caller builds its model
      gpu.helper = Gpu.create({ ...opts, compileHelper: false }).catch(() => null);
      gpu.helper.then((h) => {
        gpu.helperReady = h !== null;
      });
      // a lost device that nobody destroys must not keep the helper (and the process) alive
      gpu.lost.then(() => gpu.helper?.then((h) => h?.destroy()));
    }
    return gpu;
  }

  // ---------------------------------------------------------------- buffers

  private checkAlive(): void {
    if (this.lostInfo) throw new DeviceLostError(this.lostInfo.reason, this.lostInfo.message || 'device is gone');
  }

  /** Create a GPU buffer of `bytes` (rounded up to 4), tracked in memory stats. */
  createBuffer(bytes: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    this.checkAlive();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const max = this.limits.maxBufferSize;
    if (size > max) throw new LimitError('maxBufferSize', size, max, `buffer ${label ?? ''}`.trim());
    const buffer = this.device.createBuffer({ size, usage, label });
    this.bufferIds.set(buffer, this.nextBufferId++);
    this.liveBuffers.set(buffer, size);
    return buffer;
  }

  /** Destroy a buffer made by createBuffer and forget bind groups that used it. */
  destroyBuffer(buffer: GPUBuffer): void {
    // work recorded before this call may use the buffer: submit it first (WebGPU keeps a
    // destroyed buffer alive for work already submitted, not for work still being recorded)
    const waiting = this.submitting > 0;
    if (!waiting && (this.encoder || this.deferred)) this.flushRecorded();
    const id = this.bufferIds.get(buffer);
    if (id !== undefined) {
      for (const key of this.bindGroupsByBuffer.get(id) ?? []) this.bindGroups.delete(key);
      this.bindGroupsByBuffer.delete(id);
    }
    this.liveBuffers.delete(buffer);
    if (waiting) {
      // a submit still waits: destroy after it (and after what is recorded since)
      this.released.add(buffer);
      this.behindSubmits(() => buffer.destroy());
    } else {
      buffer.destroy();
    }
  }

  /**
   * A new tensor in its own storage buffer, optionally filled with `data`. The buffer may also be
   * bound as uniform (the matmul fast path on CPU adapters reads operands through uniform windows).
   */
  tensor(shape: readonly number[], data?: ArrayLike<number> | ArrayBufferView, dtype: DType = 'f32', name?: string): Tensor {
    for (const d of shape) if (!Number.isInteger(d) || d < 0) throw new ShapeError(`tensor ${name ?? ''}: bad shape (${shape.join(', ')})`);
    const size = numel(shape);
    const buffer = this.createBuffer(size * BYTES[dtype], TENSOR_USAGE(), name);
    const t: Tensor = { buffer, shape: [...shape], dtype, offset: 0, size, name };
    if (data) this.write(t, data);
    return t;
  }

  /**
   * Upload host data into a tensor (length must match). Happens in program order: commands
   * recorded before this call are submitted first (a queue write would otherwise land before
   * them). Hot paths write first and record after, so a training step stays one submission.
   */
  write(t: Tensor, data: ArrayLike<number> | ArrayBufferView): void {
    this.checkAlive();
    let arr: ArrayBufferView;
    if (ArrayBuffer.isView(data)) arr = data;
    else arr = t.dtype === 'f32' ? Float32Array.from(data) : t.dtype === 'i32' ? Int32Array.from(data) : Uint32Array.from(data);
    const len = arr.byteLength / 4;
    if (len !== t.size) throw new ShapeError(`write ${t.name ?? 'tensor'}: got ${len} elements, tensor (${t.shape.join(', ')}) holds ${t.size}`);
    if (this.submitting > 0) {
      // a submit still waits (for pipelines being made): land after its work, with a copy of the data
      const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).slice();
      this.behindSubmits(() => this.device.queue.writeBuffer(t.buffer, t.offset, bytes));
      return;
    }
    if (this.encoder || this.deferred) this.flushRecorded();
    this.device.queue.writeBuffer(t.buffer, t.offset, arr.buffer, arr.byteOffset, arr.byteLength);
  }

  /** Fill a tensor with zeros (recorded in order with dispatches). */
  zero(t: Tensor): void {
    this.record(() => {
      this.endPass();
      this.getEncoder().clearBuffer(t.buffer, t.offset, t.size * 4);
    });
  }

  /** Copy `src` into `dst` (same element count), recorded in order with dispatches. */
  copy(dst: Tensor, src: Tensor): void {
    if (dst.size !== src.size) throw new ShapeError(`copy: ${src.size} elements into ${dst.size}`);
    this.record(() => {
      this.endPass();
      this.getEncoder().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.size * 4);
    });
  }

  private dummyTensor: Tensor | null = null;
  /** A 1-element tensor bound where a kernel's optional input (e.g. bias) is absent. */
  dummy(): Tensor {
    // no write: WebGPU zero-fills new buffers, and a write here, in the middle of recording,
    // would split the submission
    if (!this.dummyTensor) this.dummyTensor = this.tensor([1], undefined, 'f32', 'dummy');
    return this.dummyTensor;
  }

  /** Copy `count` elements from src[srcStart..] to dst[dstStart..] (element offsets), in order with dispatches. */
  copyRange(dst: Tensor, dstStart: number, src: Tensor, srcStart: number, count: number): void {
    if (srcStart < 0 || dstStart < 0 || srcStart + count > src.size || dstStart + count > dst.size) {
      throw new ShapeError(`copyRange: [${srcStart}, ${srcStart + count}) of ${src.size} into [${dstStart}, ${dstStart + count}) of ${dst.size}`);
    }
    this.record(() => {
      this.endPass();
      this.getEncoder().copyBufferToBuffer(src.buffer, src.offset + srcStart * 4, dst.buffer, dst.offset + dstStart * 4, count * 4);
    });
  }

  /** Destroy a tensor's buffer (only for tensors that own their buffer). */
  release(...ts: Tensor[]): void {
    for (const t of ts) this.destroyBuffer(t.buffer);
  }

  /** Submit pending work, then read a tensor (or a sub-range of elements) back to the host. */
  async read(t: Tensor, start = 0, count = t.size - start): Promise<Float32Array> {
    const bytes = await this.readBytes(t.buffer, t.offset + start * 4, count * 4);
    return new Float32Array(bytes);
  }

  async readI32(t: Tensor): Promise<Int32Array> {
    return new Int32Array(await this.readBytes(t.buffer, t.offset, t.size * 4));
  }

  /** Read `bytes` bytes of `buffer` at `offset`, after submitting any recorded work. */
  async readBytes(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    this.checkAlive();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
    this.record(() => {
      this.endPass();
      this.getEncoder().copyBufferToBuffer(buffer, offset, staging, 0, size);
    });
    try {
      await this.submit();
    } catch (e) {
      staging.destroy();
      throw e;
    }
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      staging.destroy();
      this.checkAlive();
      throw e;
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return out;
  }

  // -------------------------------------------------------------- pipelines

  /** Get (or compile) a compute pipeline. Compile errors are thrown by the next submit(). */
  pipeline(kernel: string, entry: string, constants: Constants = {}, defines: Defines = {}): GPUComputePipeline {
    return this.pipelineFor(pipelineKey(kernel, entry, constants, defines), kernel, entry, constants, defines);
  }

  /** pipeline() with its cache key: made here, on this thread, unless it is in the cache. */
  private pipelineFor(key: string, kernel: string, entry: string, constants: Constants, defines: Defines): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (p) return p;
    this.checkAlive();
    // one being made off the thread is made here instead (its late result is dropped)
    this.making.delete(key);
    const code = shaderSource(kernel, defines);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: kernel });
    p = this.device.createComputePipeline(pipelineDescriptor(kernel, entry, constants, module));
    const scope = this.device.popErrorScope();
    this.check(
      scope.then(async (err) => {
        if (!err) return;
        this.pipelines.delete(key);
        throw await pipelineError(kernel, entry, constants, module, code, err.message);
      }),
    );
    this.pipelines.set(key, p);
    return p;
  }

  /**
   * Start making a pipeline off the main thread (createComputePipelineAsync): Dawn makes it on a
   * worker thread while the caller goes on recording, and lavapipe's part of it (SPIR-V to NIR)
   * runs there too. Dispatches that need it are kept (`deferred`), with everything recorded after
   * them, and encoded by the next submit() once it is made; a write() or release() that must
   * submit first encodes them at once and makes the pipeline there, synchronously (pipelineFor).
   * Its errors are thrown by the next submit(), as for pipeline().
   */
  private makePipeline(key: string, kernel: string, entry: string, constants: Constants, defines: Defines): void {
    if (this.pipelines.has(key) || this.making.has(key)) return;
    this.checkAlive();
    const code = shaderSource(kernel, defines);
    // a WGSL error shows as a validation error of the module: caught here, reported below
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: kernel });
    this.device.popErrorScope().catch(() => {});
    const making: Promise<void> = this.device.createComputePipelineAsync(pipelineDescriptor(kernel, entry, constants, module)).then(
      (p) => {
        if (this.making.get(key) !== making) return;
        this.making.delete(key);
        this.pipelines.set(key, p);
      },
      async (err: { message?: string }) => {
        // made synchronously meanwhile: that one reports its own errors
        if (this.making.get(key) !== making) return;
        this.making.delete(key);
        // (a device that is gone has nothing to report: its next call throws DeviceLostError)
        if (this.destroyed || this.lostInfo) return;
        throw await pipelineError(kernel, entry, constants, module, code, err?.message ?? String(err));
      },
    );
    this.making.set(key, making);
    this.check(making);
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  /** A dispatch's bind group: checked and keyed now, made (or found) when the dispatch is encoded. */
  private bindingPlan(pkey: string, bindings: Binding[]): BindingPlan {
    const parts: string[] = [pkey];
    const entries: GPUBindGroupEntry[] = [];
    const align = this.limits.minStorageBufferOffsetAlignment ?? 256;
    const maxBind = this.limits.maxStorageBufferBindingSize;
    const ids: number[] = [];
    bindings.forEach((b, i) => {
      if ((b as Tensor).buffer) {
        const t = b as Tensor;
        const bytes = bindingBytes(t);
        if (t.offset % align !== 0) throw new ShapeError(`binding ${i} (${t.name ?? 'tensor'}) starts at byte ${t.offset}, not a multiple of ${align}`);
        if (bytes > maxBind) throw new LimitError('maxStorageBufferBindingSize', bytes, maxBind, `binding ${t.name ?? 'tensor'} (${t.shape.join('x')})`);
        const id = this.bufferId(t.buffer);
        ids.push(id);
        parts.push(`${id}@${t.offset}+${bytes}`);
        entries.push({ binding: i, resource: { buffer: t.buffer, offset: t.offset, size: bytes } });
      } else {
        const buf = b as GPUBuffer;
        const id = this.bufferId(buf);
        ids.push(id);
        parts.push(`${id}`);
        entries.push({ binding: i, resource: { buffer: buf } });
      }
    });
    return { key: parts.join('|'), entries, ids };
  }

  private bindGroup(pipeline: GPUComputePipeline, pkey: string, plan: BindingPlan): GPUBindGroup {
    const { key, entries, ids } = plan;
    let g = this.bindGroups.get(key);
    if (!g) {
      // (for work submitted before one of its buffers goes, behind a waiting submit: not cached)
      const keep = !entries.some((e) => this.released.has((e.resource as GPUBufferBinding).buffer));
      this.device.pushErrorScope('validation');
      g = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      const what = `bind group for ${pkey.split(':').slice(0, 2).join('.')}`;
      this.check(this.device.popErrorScope().then((err) => {
        if (err) {
          this.bindGroups.delete(key);
          throw new GPUValidationError(what, err.message);
        }
      }));
      if (!keep) return g;
      this.bindGroups.set(key, g);
      for (const id of ids) {
        let s = this.bindGroupsByBuffer.get(id);
        if (!s) this.bindGroupsByBuffer.set(id, (s = new Set()));
        s.add(key);
      }
    }
    return g;
  }

  // -------------------------------------------------------------- recording

  private getEncoder(): GPUCommandEncoder {
    this.checkAlive();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'wgpt' });
    return this.encoder;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /**
   * Record one dispatch of `kernel.entry` with `bindings` in binding order (0, 1, ...), over
   * `workgroups` (x, y, z). Nothing runs until submit() (or a read).
   */
  dispatch(kernel: string, entry: string, bindings: Binding[], workgroups: readonly [number, number?, number?], opts: DispatchOptions = {}): void {
    const [x, y = 1, z = 1] = workgroups;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    for (const w of [x, y, z]) {
      if (!Number.isInteger(w) || w < 0) throw new ShapeError(`${kernel}.${entry}: bad workgroup count ${w}`);
      if (w > maxWg) throw new LimitError('maxComputeWorkgroupsPerDimension', w, maxWg, `${kernel}.${entry} dispatch`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const constants = opts.constants ?? {};
    const defines = opts.defines ?? {};
    const pkey = pipelineKey(kernel, entry, constants, defines);
    if (!this.pipelines.has(pkey) && !this.making.has(pkey)) {
      const use: PipelineUse = { kernel, entry, constants, defines, bindingBytes: bindings.map(bindingBytes) };
      this.uses.push(use);
      if (this.asyncPipelines) this.makePipeline(pkey, kernel, entry, constants, defines);
      else this.pipelineFor(pkey, kernel, entry, constants, defines);
    }
    const plan = this.bindingPlan(pkey, bindings);
    const label = opts.label ?? `${kernel}.${entry}`;
    this.dispatchCount++;
    const profiled = this.profiler !== null && !this.profiler.stopping;
    // (while profiling and a submit waits, kept too: timestamp slots are handed out in queue order)
    const ready = this.deferred || (profiled && this.submitting > 0) ? undefined : this.pipelines.get(pkey);
    if (ready) this.encodeDispatch(ready, pkey, plan, [x, y, z], label, profiled);
    else (this.deferred ??= []).push(() => this.encodeDispatch(this.pipelineFor(pkey, kernel, entry, constants, defines), pkey, plan, [x, y, z], label, profiled));
  }

  /** Run an encoder command now, or after the deferred ones when there are any (program order). */
  private record(op: () => void): void {
    if (this.deferred) this.deferred.push(op);
    else op();
  }

  private encodeDispatch(pipeline: GPUComputePipeline, pkey: string, plan: BindingPlan, [x, y, z]: [number, number, number], label: string, profiled: boolean): void {
    const group = this.bindGroup(pipeline, pkey, plan);
    if (profiled && this.profiler) {
      // profiling: each dispatch in its own pass, timed by timestamp queries
      this.endPass();
      const i = this.profiler.labels.length;
      if (i >= PROFILE_CAPACITY) throw new LimitError('profile capacity', i + 1, PROFILE_CAPACITY, 'dispatches between two submits while profiling');
      const sets = this.profiler.querySets;
      if (i >= sets.length * PROFILE_SET) sets.push(this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_SET }));
      const querySet = sets[Math.floor(i / PROFILE_SET)];
      const q = 2 * (i % PROFILE_SET);
      this.profiler.labels.push(label);
      const pass = this.getEncoder().beginComputePass({
        label: 'wgpt-profile',
        timestampWrites: { querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 },
      });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
      return;
    }
    if (!this.pass) this.pass = this.getEncoder().beginComputePass({ label: 'wgpt' });
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(x, y, z);
  }

  // -------------------------------------------------------------- compiling ahead

  /** First uses of pipelines by dispatch() since this Gpu was made, in order (not those precompile() made). */
  pipelineUses(): PipelineUse[] {
    return this.uses.map((u) => ({ ...u, bindingBytes: [...u.bindingBytes] }));
  }

  /**
   * Record a dispatch that makes the driver compile `use`'s pipeline without running it: zero
   * workgroups (an indirect dispatch, which no layer can drop as empty) over placeholder
   * buffers. lavapipe compiles a pipeline with LLVM when it first runs; most GPU drivers when it
   * is made, where this costs one empty dispatch. The placeholders are one 64 KiB buffer per
   * binding slot, bound up to the use's byte sizes; a binding whose shader type needs more than
   * that fails validation at the next submit (GPUValidationError).
   */
  precompile(use: PipelineUse): void {
    const pipeline = this.pipeline(use.kernel, use.entry, use.constants, use.defines);
    if (!this.zeroArgs) this.zeroArgs = this.createBuffer(12, GPUBufferUsage.INDIRECT, 'precompile zero workgroups');
    const entries: GPUBindGroupEntry[] = use.bindingBytes.map((bytes, i) => {
      if (!this.placeholders[i]) this.placeholders[i] = this.createBuffer(PLACEHOLDER_BYTES, GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM, `precompile placeholder ${i}`);
      return { binding: i, resource: { buffer: this.placeholders[i], offset: 0, size: Math.min(Math.max(4, Math.ceil(bytes / 4) * 4), PLACEHOLDER_BYTES) } };
    });
    this.device.pushErrorScope('validation');
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.check(this.device.popErrorScope().then((err) => {
      if (err) throw new GPUValidationError(`precompile ${use.kernel}.${use.entry}: placeholder bind group`, err.message);
    }));
    const zeroArgs = this.zeroArgs;
    this.record(() => {
      this.endPass();
      const pass = this.getEncoder().beginComputePass({ label: 'wgpt-precompile' });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroupsIndirect(zeroArgs, 0);
      pass.end();
    });
  }

  /** makePipeline() for a use (the compile helper's copy of another device's pipeline). */
  private makeUse(use: PipelineUse): void {
    if (!this.destroyed && !this.lostInfo) this.makePipeline(useKey(use), use.kernel, use.entry, use.constants, use.defines);
  }

  /** What the compile helper did so far (see Gpu.create). */
  compileHelperStats(): CompileHelperStats {
    return { enabled: this.helper !== null, ready: this.helperReady, ...this.helperCounts };
  }

  /** Resolves when the compile helper has nothing left to do (at once without one). */
  compileHelperIdle(): Promise<void> {
    return this.helperWork;
  }

  /**
   * After a submit: give the pipelines first used in it to the helper, last first. The helper
   * stops when this device has finished the submission (it compiled the rest itself by then).
   */
  private handOff(): void {
    if (!this.helper || this.handed === this.uses.length) return;
    const batch = this.uses.slice(this.handed).reverse();
    this.handed = this.uses.length;
    this.helperCounts.handed += batch.length;
    let finished = false;
    this.device.queue.onSubmittedWorkDone().then(() => { finished = true; }, () => { finished = true; });
    const helper = this.helper;
    this.helperWork = this.helperWork.then(async () => {
      const h = await helper;
      for (const use of batch) {
        if (!h || finished || this.destroyed) {
          this.helperCounts.skipped++;
          continue;
        }
        try {
          // one at a time: making a pipeline waits for the helper's queue, which is compiling the
          // one before (those first used before the helper was there are made only now)
          h.makeUse(use);
          await h.making.get(useKey(use));
          h.precompile(use);
          await h.sync();
          this.helperCounts.compiled++;
        } catch {
          // the helper is only a shortcut: this device compiles the pipeline itself when it runs
          this.helperCounts.failed++;
          await h.submit().catch(() => {}); // (clears the error, so that it does not fail the next one)
        }
      }
    });
  }

  // -------------------------------------------------------------- profiling

  private profiler: { querySets: GPUQuerySet[]; resolve: GPUBuffer; labels: string[]; totals: Map<string, { ms: number; count: number }>; stopping: boolean } | null = null;

  /** True when the device has timestamp queries (per-dispatch GPU timing). */
  get canProfile(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * Start timing every dispatch on the GPU (timestamp queries, one pass per dispatch). Slower
   * than normal recording; for benchmarks. Throws LimitError if the adapter has no timestamp-query.
   */
  startProfile(): void {
    if (!this.canProfile) throw new LimitError('feature timestamp-query', 1, 0, 'per-kernel GPU timing');
    if (this.profiler) return;
    this.endPass();
    const querySet = this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_SET });
    const resolve = this.device.createBuffer({ size: 16 * PROFILE_SET, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.profiler = { querySets: [querySet], resolve, labels: [], totals: new Map(), stopping: false };
  }

  /** Stop profiling; returns GPU milliseconds and dispatch counts per label since startProfile(). */
  async stopProfile(): Promise<Map<string, { ms: number; count: number }>> {
    const p = this.profiler;
    if (!p || p.stopping) return new Map();
    // dispatches recorded from here on are not timed: the query sets go when this returns
    p.stopping = true;
    await this.submit();
    this.profiler = null;
    for (const q of p.querySets) q.destroy();
    p.resolve.destroy();
    return p.totals;
  }

  /** Resolve the timestamps of the dispatches recorded since the last submit into totals. */
  private async collectProfile(): Promise<void> {
    const p = this.profiler;
    if (!p || p.labels.length === 0) return;
    const n = p.labels.length;
    const labels = p.labels.splice(0);
    const enc = this.device.createCommandEncoder();
    const staging = this.device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    // each query set through the one resolve buffer, in order (commands in an encoder run in order)
    for (let first = 0; first < n; first += PROFILE_SET) {
      const count = Math.min(PROFILE_SET, n - first);
      enc.resolveQuerySet(p.querySets[first / PROFILE_SET], 0, 2 * count, p.resolve, 0);
      enc.copyBufferToBuffer(p.resolve, 0, staging, 16 * first, 16 * count);
    }
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    for (let i = 0; i < n; i++) {
      const ms = Number(t[2 * i + 1] - t[2 * i]) / 1e6;
      const cur = p.totals.get(labels[i]) ?? { ms: 0, count: 0 };
      cur.ms += Math.max(0, ms);
      cur.count++;
      p.totals.set(labels[i], cur);
    }
  }

  /** Split `n` workgroups into (x, y) under the per-dimension limit. Kernels use x + y * nwg.x. */
  grid(n: number): [number, number] {
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension ?? 65535;
    if (n <= maxWg) return [n, 1];
    const y = Math.ceil(n / maxWg);
    return [Math.ceil(n / y), y];
  }

  /** Submit what is recorded without waiting for error scopes (errors surface at the next submit). */
  private flushRecorded(): void {
    // (while profiling, the timestamps of these dispatches stay in the query set and are
    // resolved at the next submit())
    this.endPass();
    if (this.deferred) {
      const ops = this.deferred;
      this.deferred = null;
      this.encoder = this.replayInto(this.encoder, ops);
    }
    const enc = this.encoder;
    this.encoder = null;
    if (!enc) return;
    this.device.queue.submit([enc.finish()]);
    this.submitCount++;
    this.handOff();
  }

  /**
   * An error check for the next submit() to wait for and throw. Never an unhandled rejection: a
   * device destroyed before it submits again just drops it.
   */
  private check(p: Promise<void>): void {
    p.catch(() => {});
    this.pendingChecks.push(p);
  }

  /** Wait for error checks; throw the first failure, a compile error before what follows from it. */
  private async settle(checks: Promise<void>[]): Promise<void> {
    if (!checks.length) return;
    const settled = await Promise.allSettled(checks);
    const failed = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason);
    if (failed.length) {
      // the root cause first: a compile error explains the invalid bind groups that follow it
      const e = failed.find((x) => x instanceof ShaderCompileError) ?? failed[0];
      // the recorded work used an invalid pipeline or bind group: drop it, and the follow-on
      // errors (invalid bind group layout, ...) that would otherwise fail the next submit
      this.uncaptured = [];
      throw e;
    }
  }

  /**
   * Submit everything recorded so far; throws typed errors for compile/validation failures.
   * Submissions reach the queue in the order submit() was called, each after its own checks
   * (and the pipelines its dispatches wait for); write() and release() while one still waits land
   * after it.
   */
  submit(): Promise<void> {
    return this.submitTurn(true);
  }

  /**
   * submit(); `report`: also throw, once this submission is on the queue, an error of an earlier
   * submission that no caller waited for (false for those submissions themselves, see behindSubmits).
   */
  private async submitTurn(report: boolean): Promise<void> {
    const call = ++this.submitCalls;
    // what is recorded from here on (while this waits) belongs to the next submit
    const ops = this.deferred;
    this.deferred = null;
    this.endPass();
    const held = this.encoder;
    this.encoder = null;
    // (among the checks, the pipelines still being made: the deferred commands wait for them)
    const checks = this.pendingChecks.splice(0);
    const before = this.queueTail;
    this.submitting++;
    const turn = (async (): Promise<[Promise<GPUError | null>, Promise<GPUError | null>] | null> => {
      try {
        await before;
        await this.settle(checks);
        let enc = held;
        if (ops) {
          const since = this.pendingChecks.length;
          enc = this.replayInto(held, ops);
          // their bind groups were made just now
          await this.settle(this.pendingChecks.splice(since));
        }
        if (!enc) return null;
        this.checkAlive();
        this.device.pushErrorScope('out-of-memory');
        this.device.pushErrorScope('validation');
        this.device.queue.submit([enc.finish()]);
        this.submitCount++;
        this.handOff();
        // both popped now: another submission may push scopes of its own before these settle
        const validation = this.device.popErrorScope();
        return [validation, this.device.popErrorScope()];
      } finally {
        this.submitting--;
      }
    })();
    this.queueTail = turn.then(() => {}, () => {});
    const scopes = await turn;
    if (!scopes) return this.reportOrphan(report, call);
    const [validation, oom] = await Promise.all(scopes);
    if (validation) throw new GPUValidationError('submit', validation.message);
    if (this.profiler) await this.collectProfile();
    if (oom) throw new GPUValidationError('submit (out of memory)', oom.message);
    if (this.uncaptured.length) {
      const e = this.uncaptured.splice(0);
      throw new GPUValidationError('uncaptured', e.map((x) => x.message).join('; '));
    }
    this.reportOrphan(report, call);
  }

  /** For a caller's submit (`report`), throw the first error of a submission started before it that nobody waited for. */
  private reportOrphan(report: boolean, call: number): void {
    const i = report ? this.orphanErrors.findIndex((o) => o.call < call) : -1;
    if (i >= 0) throw this.orphanErrors.splice(i, 1)[0].error;
  }

  /**
   * Encode the deferred `ops` after what `enc` holds, whose pass must be ended (what was recorded
   * meanwhile is kept aside).
   */
  private replayInto(enc: GPUCommandEncoder | null, ops: (() => void)[]): GPUCommandEncoder | null {
    const later = { encoder: this.encoder, pass: this.pass, deferred: this.deferred };
    this.encoder = enc;
    this.pass = null;
    this.deferred = null;
    try {
      for (const op of ops) op();
      this.endPass();
      return this.encoder;
    } finally {
      this.encoder = later.encoder;
      this.pass = later.pass;
      this.deferred = later.deferred;
    }
  }

  /**
   * Run `op` (a queue write, a buffer's destruction) after the submissions still waiting and
   * after everything recorded so far, which is submitted first.
   */
  private behindSubmits(op: () => void): void {
    if (this.encoder || this.deferred) {
      const call = this.submitCalls + 1; // (submitTurn's own number)
      this.submitTurn(false).catch((error) => this.orphanErrors.push({ error, call }));
    }
    const call = this.submitCalls;
    this.queueTail = this.queueTail.then(() => {
      if (!this.destroyed) op();
    }).catch((error) => {
      this.orphanErrors.push({ error, call });
    });
  }

  /** Wait until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    await this.submit();
    await this.device.queue.onSubmittedWorkDone();
    this.checkAlive();
  }

  /** Counters for leak checks: live buffers and bytes made through this Gpu, cached pipelines and bind groups. */
  stats(): MemoryStats {
    let bytes = 0;
    for (const b of this.liveBuffers.values()) bytes += b;
    return { buffers: this.liveBuffers.size, bytes, pipelines: this.pipelines.size, bindGroups: this.bindGroups.size };
  }

  /** Destroy the device and let a Node process exit. */
  destroy(): void {
    this.destroyed = true;
    this.encoder = null;
    this.deferred = null;
    this.pass = null;
    for (const b of this.liveBuffers.keys()) b.destroy();
    this.liveBuffers.clear();
    this.bindGroups.clear();
    this.device.destroy();
    if (this.helper) {
      // the helper may still be taking its reference to the process's Dawn instance: let go of
      // ours only after it has one and has given it back (dropping an instance while a device of
      // it is being made is what Dawn for Node 0.6.2 does not survive; see device.ts)
      this.helper.then((h) => {
        h?.destroy();
        this.acquired.release();
      });
    } else {
      this.acquired.release();
    }
  }
}
