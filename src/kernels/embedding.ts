/**
 * embedding: token + position embedding, forward and backward. See shaders/embedding.wgsl.
 *
 * embeddingForward overwrites `out`; embeddingBackward ADDS into dwte and dwpe (+=).
 *
 * The backward pass needs no float atomics: an EmbeddingBackwardPlan groups the positions by
 * token id on the host (the ids are known there) and uploads the buckets once per step; each
 * (token, channel) of dwte is then summed by one invocation in position order (deterministic).
 */
import type { Gpu } from '../gpu/context.ts';
import { shapeStr, type Tensor } from '../gpu/tensor.ts';
import { ShapeError } from '../errors.ts';
import { expectDim, expectDistinct, expectShape } from './check.ts';
import { dims } from './uniforms.ts';

const WG = 256; // invocations per workgroup, one output unit (4 channels when C % 4 == 0, else 1) each

/** Units per row (vec4s when C % 4 == 0) and the template defines of shaders/embedding.wgsl. */
function units(C: number): { c4: number; defines: { VEC4: boolean } } {
  const vec4 = C % 4 === 0;
  return { c4: vec4 ? C / 4 : C, defines: { VEC4: vec4 } };
}

/**
 * out (B,T,C) = wte[ids[b,t]] (V,C) + wpe[t] (maxT,C); ids (B,T) i32; T <= maxT.
 * Overwrites `out`. Ids must be in [0, V) (EmbeddingBackwardPlan.setIds checks them on the host);
 * the kernel clamps a bad id so it never reads outside wte.
 */
export function embeddingForward(gpu: Gpu, out: Tensor, ids: Tensor, wte: Tensor, wpe: Tensor): void {
  const op = 'embeddingForward';
  expectShape(op, 'ids', ids, [-1, -1], 'i32');
  const [B, T] = ids.shape;
  expectShape(op, 'wte', wte, [-1, -1]);
  const [V, C] = wte.shape;
  expectDim(op, 'B', B);
  expectDim(op, 'T', T);
  expectDim(op, 'V', V);
  expectDim(op, 'C', C);
  expectShape(op, 'wpe', wpe, [-1, C]);
  const maxT = wpe.shape[0];
  if (T > maxT) throw new ShapeError(`${op}: cannot embed a sequence of length T=${T}, wpe ${shapeStr(wpe.shape)} holds only ${maxT} positions`);
  expectShape(op, 'out', out, [B, T, C]);
  const { c4, defines } = units(C);
  gpu.dispatch('embedding', 'embedding_forward', [out, ids, wte, wpe, dims(gpu, [B, T, c4, V])], gpu.grid(Math.ceil((B * T * c4) / WG)), { defines });
}

/**
 * The token-id buckets embeddingBackward needs, for one batch shape (B, T) and vocabulary V.
 * GPU buffers are allocated once (sized for B*T positions), so a training loop allocates nothing
 * per step: call setIds(ids) each step, after the previous step was submitted (the upload is a
 * queue write, which lands before the next submit, like gpu.write of the ids themselves).
 */
export class EmbeddingBackwardPlan {
  readonly B: number;
  readonly T: number;
  readonly V: number;
  private buckets = -1;

  private readonly gpu: Gpu;
  // GPU side (see shaders/embedding.wgsl)
  private readonly bucketToken: Tensor; // (B*T) u32: token of bucket u, V past the last bucket
  private readonly bucketStart: Tensor; // (B*T+1) u32: bucket u = bucketPos[start[u] .. start[u+1])
  private readonly bucketPos: Tensor;   // (B*T) u32: flat positions b*T+t grouped by bucket, ascending
  // host scratch, reused every step
  private readonly hostToken: Uint32Array;
  private readonly hostStart: Uint32Array;
  private readonly hostPos: Uint32Array;
  private readonly cursor: Int32Array; // (V): per-token count, then per-token write cursor

  constructor(gpu: Gpu, B: number, T: number, V: number) {
    const op = 'EmbeddingBackwardPlan';
    expectDim(op, 'B', B);
    expectDim(op, 'T', T);
    expectDim(op, 'V', V);
    this.gpu = gpu;
    this.B = B;
    this.T = T;
    this.V = V;
    const N = B * T;
    this.bucketToken = gpu.tensor([N], undefined, 'u32', 'embedding.bucket_token');
    this.bucketStart = gpu.tensor([N + 1], undefined, 'u32', 'embedding.bucket_start');
    this.bucketPos = gpu.tensor([N], undefined, 'u32', 'embedding.bucket_pos');
    this.hostToken = new Uint32Array(N);
    this.hostStart = new Uint32Array(N + 1);
    this.hostPos = new Uint32Array(N);
    this.cursor = new Int32Array(V);
  }

  /**
   * Bucket the B*T token ids (row-major (B,T)) by id and upload the buckets. Throws ShapeError
   * for a wrong length or an id outside [0, V), naming the first bad position and its value.
   */
  setIds(ids: Int32Array): void {
    const { B, T, V } = this;
    const N = B * T;
    if (ids.length !== N) throw new ShapeError(`EmbeddingBackwardPlan.setIds: got ${ids.length} ids, expected B*T = ${B}*${T} = ${N}`);
    for (let i = 0; i < N; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < V)) {
        throw new ShapeError(`EmbeddingBackwardPlan.setIds: token id ${id} at position ${i} (b=${Math.floor(i / T)}, t=${i % T}) is outside the vocabulary [0, ${V})`);
      }
    }
    // Counting sort by token id: buckets in ascending token order, positions ascending in each.
    const count = this.cursor;
    count.fill(0);
    for (let i = 0; i < N; i++) count[ids[i]]++;
    let u = 0;
    let start = 0;
    for (let v = 0; v < V; v++) {
      const n = count[v];
      if (n === 0) continue;
      this.hostToken[u] = v;
      this.hostStart[u] = start;
      count[v] = start; // from here on: where token v's next position goes
      start += n;
      u++;
    }
    this.buckets = u;
    this.hostToken.fill(V, u); // no bucket: the kernel skips these
    this.hostStart.fill(N, u); // bucketStart[U] = N closes the last bucket
    for (let i = 0; i < N; i++) this.hostPos[count[ids[i]]++] = i;
    this.gpu.write(this.bucketToken, this.hostToken);
    this.gpu.write(this.bucketStart, this.hostStart);
    this.gpu.write(this.bucketPos, this.hostPos);
  }

  /** Number of distinct token ids in the last setIds (buckets in use); -1 before the first. */
  get numBuckets(): number {
    return this.buckets;
  }

  /** The GPU buffers, in the kernel's binding order: bucket_token, bucket_start, bucket_pos. */
  buffers(): [Tensor, Tensor, Tensor] {
    return [this.bucketToken, this.bucketStart, this.bucketPos];
  }

  /** Free the GPU buffers. */
  destroy(): void {
    this.gpu.release(this.bucketToken, this.bucketStart, this.bucketPos);
  }
}

/**
 * dwte (V,C) += sum over positions (b,t) with ids[b,t] = v of dout[b,t], for every token v;
 * dwpe (maxT,C) += sum over b of dout[b,t] for t < T. dout (B,T,C). Both ADD (+=).
 * `plan` must hold this step's ids (plan.setIds) for the same B, T and V.
 */
export function embeddingBackward(gpu: Gpu, plan: EmbeddingBackwardPlan, dwte: Tensor, dwpe: Tensor, dout: Tensor): void {
  const op = 'embeddingBackward';
  const { B, T, V } = plan;
  expectShape(op, 'dout', dout, [B, T, -1]);
  const C = dout.shape[2];
  expectDim(op, 'C', C);
  expectShape(op, 'dwte', dwte, [V, C]);
  expectShape(op, 'dwpe', dwpe, [-1, C]);
  if (T > dwpe.shape[0]) throw new ShapeError(`${op}: dwpe ${shapeStr(dwpe.shape)} holds ${dwpe.shape[0]} positions, dout has T=${T}`);
  expectDistinct(op, dwte, dwpe, 'dwte and dwpe');
  if (plan.numBuckets < 0) throw new ShapeError(`${op}: the plan has no token ids yet (call plan.setIds(ids) first)`);
  embeddingBackwardWte(gpu, dwte, dout, plan.buffers(), plan.numBuckets, B, T, V);
  embeddingBackwardWpe(gpu, dwpe, dout);
}

/**
 * The wte half of embeddingBackward with explicit buckets (shaders/embedding.wgsl's layout):
 * dwte (V,C) += the dout (B,T,C) rows of each bucket's positions. `buckets` = [token, start, pos]
 * u32 tensors, `numBuckets` of them in use. For models that bucket token ids themselves (e.g. per
 * vocabulary chunk); no checks beyond what the GPU needs.
 */
export function embeddingBackwardWte(gpu: Gpu, dwte: Tensor, dout: Tensor, buckets: readonly [Tensor, Tensor, Tensor], numBuckets: number, B: number, T: number, V: number): void {
  if (numBuckets === 0) return;
  const { c4, defines } = units(dout.shape[dout.shape.length - 1]);
  gpu.dispatch('embedding', 'embedding_backward_wte', [dwte, dout, ...buckets, dims(gpu, [B, T, c4, V])], gpu.grid(Math.ceil((numBuckets * c4) / WG)), { defines });
}

/** dwpe (maxT,C) += sum over b of dout (B,T,C) [b, t] for t < T. */
export function embeddingBackwardWpe(gpu: Gpu, dwpe: Tensor, dout: Tensor): void {
  expectShape('embeddingBackwardWpe', 'dout', dout, [-1, -1, -1]);
  const [B, T, C] = dout.shape;
  const { c4, defines } = units(C);
  gpu.dispatch('embedding', 'embedding_backward_wpe', [dwpe, dout, dims(gpu, [B, T, c4, 0])], gpu.grid(Math.ceil((T * c4) / WG)), { defines });
}
