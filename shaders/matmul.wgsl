// matmul.wgsl: batched matrix product with transposes as options, the workhorse of the model.
//
//   C[b] (M, N) = alpha * op(A[b]) (M, K) . op(B[b]) (K, N)  [+ bias (N)]  [+ C[b] if ACCUMULATE]
//
//   op(A) = A stored (M, K), or A stored (K, M) when TRANS_A
//   op(B) = B stored (K, N), or B stored (N, K) when TRANS_B
//
// A linear layer (llm.c's matmul) is three products:
//   forward  out (N, OC)  = inp (N, C) . W^T      TRANS_B, bias
//   dinp     (N, C)      += dout (N, OC) . W     (W stored (OC, C))
//   dW       (OC, C)     += dout^T . inp         TRANS_A
// Attention-style batched products use the batch strides (in elements).
//
// Two ways to compute it, picked by src/kernels/matmul.ts:
//
// 1. `matmul`: any shape, any batch, any adapter. Barrier-free register tiling: each invocation
//    computes a TM x TN = 4 x 4 block of C, an 8 x 8 workgroup covers 32 x 32. Where an operand's
//    contiguous dimension is a multiple of 4 (template defines A_VEC4 / B_VEC4, which every entry
//    point of this module needs; pack and bias_backward reuse a_in) it is bound as array<vec4<f32>>
//    and read with one vec4 load per 4 elements; otherwise element by element. When an operand is
//    read as vec4 along k, K is walked 4 at a time: a[i] = A(row i, k..k+3), b[j] = B(k..k+3,
//    column j), acc[i][j] += dot(a[i], b[j]); otherwise one k at a time (vec4s along m or n give a
//    column of A / a row of B) with an outer product. Edges: load indices are clamped (every load
//    is in bounds; rows/columns past the end are computed but never stored), so any M, N, K works.
//
//    Split-K, for real GPUs: when C has few tiles and K is long, `matmul` (or `matmul_shared`)
//    runs as S products over slices of K into a scratch buffer (k_chunk), and
//    `matmul_splitk_reduce` sums them into C.
//
// 2. `matmul_pack` + `matmul_windows`: a fast path for CPU adapters (lavapipe). There, a storage
//    buffer load inside a loop costs one branchy scalar load per SIMD lane, while a uniform buffer
//    load is a branch-free gather, about 3x cheaper. Uniform bindings hold at most 64 KiB, so:
//      - `matmul_pack` copies op(A) and op(B)^T into scratch buffers as blocks of RP = 128 rows x
//        KC k-values (KC <= 128, a multiple of 4), k contiguous, zero-padded: block (p, q) holds
//        rows p*RP.. and k q*KC.. and fits one 64 KiB window. (An operand that already has this
//        layout, not transposed with K = KC, is bound in place instead: src/kernels/matmul.ts.)
//      - each `matmul_windows` dispatch computes one RP x RP region of C from W (1..WIN_MAX)
//        k-blocks of A and of B bound as uniform windows wa0, wa1, wb0, wb1; regions with more
//        k-blocks take several dispatches that accumulate. Each invocation computes 8 x 8 outputs.
//        The region's origin and sizes, W, alpha, and whether to add the bias and accumulate come
//        from a small uniform `win` (one 256-byte slot per dispatch), so ONE pipeline serves every
//        product (a pipeline costs seconds of LLVM compile on lavapipe).
//      - `matmul_windows_sg` (module define SUBGROUPS, which also enables the extension) does the
//        same from the same windows where the device has subgroups of at least 8 lanes (lavapipe):
//        16 x 32 outputs per 8-lane subgroup, rows of A shared by subgroupBroadcast instead of
//        loaded by every lane: 1.3-1.5x the throughput of `matmul_windows` (bench/README.md).
//        It also reads k-major blocks (RP k-rows x RP rows, rows contiguous; `win` flags bit 2)
//        for weight gradients, whose operands are both stored (K, rows): one of 128 rows (K a
//        multiple of 128) is then bound in place and any other packed without a transpose.
//
// Sizes and options of the general kernel and of the packing pass also come from uniform buffers
// (`mm`, `pk`, `bb`); only the transposes of the general kernel (which pick its loop structure)
// are override constants, and the vec4 binding types are template defines.
//
// Accumulation is always fp32, in a fixed order (deterministic).

// ------------------------------------------------------------------------------------------------
// 1. general kernel

override TRANS_A: bool = false;
override TRANS_B: bool = false;

struct Mm {
  m: u32,
  n: u32,
  k: u32,
  stride_a: u32,   // elements between batches of A (0: shared across the batch)
  stride_b: u32,
  stride_c: u32,
  flags: u32,      // bit 0: add bias, bit 1: accumulate into C
  k_chunk: u32,    // 0, or split-K: batch index z computes k in [z * k_chunk, (z + 1) * k_chunk)
  alpha: f32,
}
@group(0) @binding(4) var<uniform> mm: Mm;

const TM: u32 = 4u;
const TN: u32 = 4u;

@group(0) @binding(0) var<storage, read_write> c_out: array<f32>;  // (batch, M, N)
#if ${A_VEC4}
@group(0) @binding(1) var<storage, read> a_in: array<vec4<f32>>;   // (batch, M, K) or (batch, K, M)
fn a_at(i: u32) -> f32 { return a_in[i >> 2u][i & 3u]; }
fn a_vec(i: u32) -> vec4<f32> { return a_in[i >> 2u]; }  // i: a multiple of 4
#else
@group(0) @binding(1) var<storage, read> a_in: array<f32>;         // (batch, M, K) or (batch, K, M)
fn a_at(i: u32) -> f32 { return a_in[i]; }
fn a_vec(i: u32) -> vec4<f32> { return vec4<f32>(a_in[i], a_in[i + 1u], a_in[i + 2u], a_in[i + 3u]); }
#endif
#if ${B_VEC4}
@group(0) @binding(2) var<storage, read> b_in: array<vec4<f32>>;   // (batch, K, N) or (batch, N, K)
fn b_at(i: u32) -> f32 { return b_in[i >> 2u][i & 3u]; }
fn b_vec(i: u32) -> vec4<f32> { return b_in[i >> 2u]; }
#else
@group(0) @binding(2) var<storage, read> b_in: array<f32>;         // (batch, K, N) or (batch, N, K)
fn b_at(i: u32) -> f32 { return b_in[i]; }
fn b_vec(i: u32) -> vec4<f32> { return vec4<f32>(b_in[i], b_in[i + 1u], b_in[i + 2u], b_in[i + 3u]); }
#endif
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // (N), unused unless flags bit 0

const A_VEC4: bool = ${A_VEC4};
const B_VEC4: bool = ${B_VEC4};

@compute @workgroup_size(8, 8, 1)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = mm.m;
  let N = mm.n;
  let K = mm.k;
  let row0 = gid.y * TM;
  let col0 = gid.x * TN;
  if (row0 >= M || col0 >= N) { return; }
  let a_base = gid.z * mm.stride_a;
  let b_base = gid.z * mm.stride_b;
  let c_base = gid.z * mm.stride_c;
  // split-K (k_chunk > 0; the wrapper makes A and B shared, strides 0): this z's range of k
  let k_begin = gid.z * mm.k_chunk;
  let k_end = select(K, min(K, k_begin + mm.k_chunk), mm.k_chunk != 0u);

  // clamped row/column indices: always in bounds, duplicates are computed but never stored
  var rows: array<u32, TM>;
  var cols: array<u32, TN>;
  for (var i = 0u; i < TM; i++) { rows[i] = min(row0 + i, M - 1u); }
  for (var j = 0u; j < TN; j++) { cols[j] = min(col0 + j, N - 1u); }

  var acc: array<array<f32, TN>, TM>;
  if ((!TRANS_A && A_VEC4) || (TRANS_B && B_VEC4)) {
    // an operand is read as vec4 along k (so K % 4 == 0): walk K 4 at a time, acc += dot(a, b)
    for (var k = k_begin; k < k_end; k += 4u) {
      var a: array<vec4<f32>, TM>;  // a[i][q] = A(row i, k + q)
      var b: array<vec4<f32>, TN>;  // b[j][q] = B(k + q, column j)
      if (!TRANS_A) {
        for (var i = 0u; i < TM; i++) { a[i] = a_vec(a_base + rows[i] * K + k); }
      } else {
        for (var q = 0u; q < 4u; q++) { a_col(&a, q, a_base + (k + q) * M, row0, &rows); }
      }
      if (TRANS_B) {
        for (var j = 0u; j < TN; j++) { b[j] = b_vec(b_base + cols[j] * K + k); }
      } else {
        for (var q = 0u; q < 4u; q++) { b_row(&b, q, b_base + (k + q) * N, col0, &cols); }
      }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i][j] += dot(a[i], b[j]); }
      }
    }
  } else {
    // otherwise one k at a time (any K), acc += outer product of a column of A and a row of B
    for (var k = k_begin; k < k_end; k++) {
      var a: array<vec4<f32>, TM>;  // a[i][0] = A(row i, k)
      var b: array<vec4<f32>, TN>;  // b[j][0] = B(k, column j)
      if (TRANS_A) { a_col(&a, 0u, a_base + k * M, row0, &rows); } else {
        for (var i = 0u; i < TM; i++) { a[i][0] = a_at(a_base + rows[i] * K + k); }
      }
      if (TRANS_B) {
        for (var j = 0u; j < TN; j++) { b[j][0] = b_at(b_base + cols[j] * K + k); }
      } else { b_row(&b, 0u, b_base + k * N, col0, &cols); }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i][j] = fma(a[i][0], b[j][0], acc[i][j]); }
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let r = row0 + i;
    if (r >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let cc = col0 + j;
      if (cc >= N) { break; }
      store_c(c_base, r, cc, acc[i][j]);
    }
  }
}

// C(r, cc) of the batch at c_base = alpha * v [+ bias(cc)] [+ C(r, cc)] (`mm` flags), for
// `matmul` and `matmul_shared`
fn store_c(c_base: u32, r: u32, cc: u32, v: f32) {
  var out = mm.alpha * v;
  if ((mm.flags & 1u) != 0u) { out += bias[cc]; }
  let idx = c_base + r * mm.n + cc;
  if ((mm.flags & 2u) != 0u) { out += c_out[idx]; }
  c_out[idx] = out;
}

// a[i][q] = A(row i, k) for the TM rows, from the row `base` = k * M of A stored (K, M): one vec4
// when A_VEC4 (rows row0..row0+3, all < M as M % 4 == 0), else clamped scalars.
fn a_col(a: ptr<function, array<vec4<f32>, TM>>, q: u32, base: u32, row0: u32, rows: ptr<function, array<u32, TM>>) {
  if (A_VEC4) {
    let v = a_vec(base + row0);
    (*a)[0][q] = v.x; (*a)[1][q] = v.y; (*a)[2][q] = v.z; (*a)[3][q] = v.w;
  } else {
    for (var i = 0u; i < TM; i++) { (*a)[i][q] = a_at(base + (*rows)[i]); }
  }
}

// b[j][q] = B(k, column j) for the TN columns, from the row `base` = k * N of B stored (K, N).
fn b_row(b: ptr<function, array<vec4<f32>, TN>>, q: u32, base: u32, col0: u32, cols: ptr<function, array<u32, TN>>) {
  if (B_VEC4) {
    let v = b_vec(base + col0);
    (*b)[0][q] = v.x; (*b)[1][q] = v.y; (*b)[2][q] = v.z; (*b)[3][q] = v.w;
  } else {
    for (var j = 0u; j < TN; j++) { (*b)[j][q] = b_at(base + (*cols)[j]); }
  }
}

// matmul_shared: the same product (same bindings, `mm` uniform, transposes, batch and split-K)
// for GPUs (their default for every product), staged through workgroup memory. A 16 x 16
// workgroup computes a 64 x 64 tile of C, 4 x 4 per invocation; K is walked SK = 16 at a time:
// the workgroup copies the 64 x 16 slices of op(A) and op(B) into workgroup memory (4 loads per
// invocation each, zero past the edges, so any M, N, K), then every invocation reads its 4 rows
// and 4 columns from there, so each element loaded from memory serves 64 outputs instead of 4.
// Two barriers per slice: the CPU adapters never get it by default (lavapipe and SwiftShader pay
// dearly for barriers).
// It is compiled only into its own module (template define SHARED): its mere presence in the
// module made lavapipe compile other matmul pipelines slower (bias_backward: 0.6 s instead of
// 0.12 s), a cost on the first step of a CPU adapter, which never runs it.
#if ${SHARED}
const SM: u32 = 64u;   // tile of C: SM x SM
const SK: u32 = 16u;   // k per slice
// Scalar arrays: with vec4 elements, four invocations would each write one component of the same
// vec4, which D3D12 and Metal may compile to a read-modify-write of the whole vector (a race;
// gpuweb/gpuweb#2112). Each invocation writes whole elements, and reads 4 consecutive ones.
var<workgroup> sh_a: array<f32, 1024>;  // [k][m]: SK x SM, op(A)(m, k)
var<workgroup> sh_b: array<f32, 1024>;  // [k][n]: SK x SM, op(B)(k, n)

// op(A)(m, k) and op(B)(k, n) of batch base `base`, or 0 outside (M, K) / (K, N)
fn op_a(base: u32, m: u32, k: u32, M: u32, K: u32) -> f32 {
  if (m >= M || k >= K) { return 0.0; }
  if (TRANS_A) { return a_at(base + k * M + m); }
  return a_at(base + m * K + k);
}
fn op_b(base: u32, k: u32, n: u32, K: u32, N: u32) -> f32 {
  if (k >= K || n >= N) { return 0.0; }
  if (TRANS_B) { return b_at(base + n * K + k); }
  return b_at(base + k * N + n);
}

@compute @workgroup_size(16, 16, 1)
fn matmul_shared(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
  let M = mm.m;
  let N = mm.n;
  let K = mm.k;
  let a_base = wid.z * mm.stride_a;
  let b_base = wid.z * mm.stride_b;
  let c_base = wid.z * mm.stride_c;
  let k_begin = wid.z * mm.k_chunk;
  let k_end = select(K, min(K, k_begin + mm.k_chunk), mm.k_chunk != 0u);
  let tile_m = wid.y * SM;
  let tile_n = wid.x * SM;
  // loads: invocation li fills 4 floats of each slice. Along the operand's contiguous dimension
  // neighbouring invocations read neighbouring elements: k for A stored (M, K), m for (K, M).
  var acc: array<vec4<f32>, 4>;  // acc[i][j] = C(row 4 * lid.y + i, column 4 * lid.x + j)
  for (var k0 = k_begin; k0 < k_end; k0 += SK) {
    for (var q = 0u; q < 4u; q++) {
      let e = li * 4u + q;  // 0 .. 1023: one float of the 64 x 16 slice
      var m: u32; var ka: u32;
      if (TRANS_A) { m = e % SM; ka = e / SM; } else { m = e / SK; ka = e % SK; }
      let va = select(0.0, op_a(a_base, tile_m + m, k0 + ka, M, K), k0 + ka < k_end);
      sh_a[ka * SM + m] = va;
      var n: u32; var kb: u32;
      if (TRANS_B) { n = e / SK; kb = e % SK; } else { n = e % SM; kb = e / SM; }
      let vb = select(0.0, op_b(b_base, k0 + kb, tile_n + n, K, N), k0 + kb < k_end);
      sh_b[kb * SM + n] = vb;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < SK; kk++) {
      let ia = kk * SM + 4u * lid.y;
      let ib = kk * SM + 4u * lid.x;
      let a = vec4<f32>(sh_a[ia], sh_a[ia + 1u], sh_a[ia + 2u], sh_a[ia + 3u]);  // op(A)(4 * lid.y + i, kk)
      let b = vec4<f32>(sh_b[ib], sh_b[ib + 1u], sh_b[ib + 2u], sh_b[ib + 3u]);  // op(B)(kk, 4 * lid.x + j)
      acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = tile_m + 4u * lid.y + i;
    if (r >= M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let cc = tile_n + 4u * lid.x + j;
      if (cc >= N) { break; }
      store_c(c_base, r, cc, acc[i][j]);
    }
  }
}
#endif

// matmul_splitk_reduce: C = alpha * (sum over z of partials[z]) [+ bias] [+ C], the S partial
// products of a split-K `matmul` summed in z order (deterministic). A real GPU runs a product with
// a small C and a long K (a weight gradient: C is (OC, C), K = B*T) on only tens of workgroups,
// each walking all of K; split-K runs S times as many, each on K / S. partials are bound where
// the general kernel binds A (a_in, scalar), C where it binds C, the bias where it binds the bias.
struct SplitK {
  count: u32,   // M * N
  n: u32,       // N (the bias index is i % N)
  splits: u32,  // S
  flags: u32,   // bit 0: add bias, bit 1: accumulate into C
  alpha: f32,
}
@group(0) @binding(2) var<uniform> sk: SplitK;

@compute @workgroup_size(64)
fn matmul_splitk_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(local_invocation_index) li: u32) {
  let i = wg_linear(wid, nwg) * 64u + li;  // a grid of more than 65535 workgroups is folded
  if (i >= sk.count) { return; }
  var v = 0.0;
  for (var z = 0u; z < sk.splits; z++) { v += a_at(z * sk.count + i); }
  v *= sk.alpha;
  if ((sk.flags & 1u) != 0u) { v += bias[i % sk.n]; }
  if ((sk.flags & 2u) != 0u) { v += c_out[i]; }
  c_out[i] = v;
}

// ------------------------------------------------------------------------------------------------
// 2. fast path for CPU adapters: pack into 64 KiB blocks, multiply from uniform windows

const RP: u32 = 128u;  // rows per block (and the side of a region of C)

// matmul_pack: packed (P, Q, RP, KC) = op(X)(p*RP + r, q*KC + kk), zero outside (R, K).
// X is A (R = M, trans = TRANS_A: stored (K, M)) or B (R = N, trans = !TRANS_B: stored (K, N));
// it is bound where the general kernel binds A (a_in, as vec4 when A_VEC4: the contiguous
// dimension, R if trans else K, is a multiple of 4). One invocation per 4 x 4 group: packed rows
// r..r+3 x k-values kk..kk+3, written as 4 vec4s (a transpose in registers when trans and vec4).
// For the k-major layout (matmul_windows_sg) X stored (K, rows) is packed untransposed as R = K
// "rows" of `rows` values with KC = RP: blocks of RP k-rows x RP rows.
struct Pack {
  r: u32,      // rows of op(X): M for A, N for B
  k: u32,      // K
  kc: u32,     // k-values per block, a multiple of 4
  q: u32,      // blocks along k: ceil(K / KC)
  trans: u32,  // 1: X stored (K, R) instead of (R, K)
  four: u32,   // 4: the loops below run to it, a value the compiler cannot fold, so they stay loops
               // with one load each instead of being unrolled into 4 or 16 (compile time on lavapipe)
}
@group(0) @binding(0) var<storage, read_write> packed: array<vec4<f32>>;  // (P, Q, RP, KC / 4)
@group(0) @binding(2) var<uniform> pk: Pack;

@compute @workgroup_size(64)
fn matmul_pack(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let PACK_R = pk.r;
  let PACK_K = pk.k;
  let PACK_KC = pk.kc;
  let PACK_Q = pk.q;
  let g = wg_linear(wid, nwg) * 64u + lid;
  let kc4 = PACK_KC / 4u;
  let per_block = (RP / 4u) * kc4;  // 4 x 4 groups per block
  let P = (PACK_R + RP - 1u) / RP;
  if (g >= P * PACK_Q * per_block) { return; }
  let pq = g / per_block;
  let rr = (g % per_block) / kc4 * 4u;  // row within the block
  let k4 = (g % per_block) % kc4;       // vec4 column within the block
  let row = (pq / PACK_Q) * RP + rr;
  let k = (pq % PACK_Q) * PACK_KC + k4 * 4u;
  let four = pk.four;
  let out0 = (pq * RP + rr) * kc4 + k4;  // packed row rr + i is at out0 + i * kc4
  if (A_VEC4) {
    // whole vec4s, straight to the output (no private array: indexing one with a loop variable
    // costs a scatter per lane on lavapipe)
    if (pk.trans != 0u) {
      // x_q = X(row..row+3, k + q), stored along the rows: a 4 x 4 transpose
      let x0 = pack_vec(k * PACK_R + row, row < PACK_R && k < PACK_K);
      let x1 = pack_vec((k + 1u) * PACK_R + row, row < PACK_R && k + 1u < PACK_K);
      let x2 = pack_vec((k + 2u) * PACK_R + row, row < PACK_R && k + 2u < PACK_K);
      let x3 = pack_vec((k + 3u) * PACK_R + row, row < PACK_R && k + 3u < PACK_K);
      packed[out0] = vec4<f32>(x0.x, x1.x, x2.x, x3.x);
      packed[out0 + kc4] = vec4<f32>(x0.y, x1.y, x2.y, x3.y);
      packed[out0 + 2u * kc4] = vec4<f32>(x0.z, x1.z, x2.z, x3.z);
      packed[out0 + 3u * kc4] = vec4<f32>(x0.w, x1.w, x2.w, x3.w);
    } else if ((PACK_K & 3u) == 0u) {
      for (var i = 0u; i < four; i++) {
        packed[out0 + i * kc4] = pack_vec((row + i) * PACK_K + k, row + i < PACK_R && k < PACK_K);
      }
    } else {
      // rows whose length K is not a multiple of 4 (the LM head's input gradient, K = V): X bound
      // as vec4s all the same (pack() checks that its size is a multiple of 4), X(r, k..k+3)
      // starts s = (r K + k) % 4 floats into a vec4 and is shifted out of two
      for (var i = 0u; i < four; i++) {
        let ri = row + i;
        let f = ri * PACK_K + k;
        let s = f & 3u;
        let v0 = a_vec(f - s);
        let v1 = a_vec(f - s + 4u);  // (past the end only where every lane it feeds is masked)
        var v = select(v0, vec4<f32>(v0.yzw, v1.x), s == 1u);
        v = select(v, vec4<f32>(v0.zw, v1.xy), s == 2u);
        v = select(v, vec4<f32>(v0.w, v1.xyz), s == 3u);
        let inside = (vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(PACK_K)) & vec4<bool>(ri < PACK_R);
        packed[out0 + i * kc4] = select(vec4<f32>(0.0), v, inside);
      }
    }
    return;
  }
  // element by element (still no private array)
  for (var i = 0u; i < four; i++) {
    let ri = row + i;
    packed[out0 + i * kc4] = vec4<f32>(pack_at(ri, k), pack_at(ri, k + 1u), pack_at(ri, k + 2u), pack_at(ri, k + 3u));
  }
}

// X(r, kk) of op(X) (stored transposed when pk.trans), or 0 outside (R, K): the padding
fn pack_at(r: u32, kk: u32) -> f32 {
  if (r < pk.r && kk < pk.k) { return a_at(select(r * pk.k + kk, kk * pk.r + r, pk.trans != 0u)); }
  return 0.0;
}

// 4 elements of X from element i (a multiple of 4) where `inside`, else zeros (the padding)
fn pack_vec(i: u32, inside: bool) -> vec4<f32> {
  if (inside) { return a_vec(i); }
  return vec4<f32>(0.0);
}

// matmul_windows: C[row0.., col0..] (rows x cols, at most RP x RP) (+)= alpha * A_region . B_region^T
// over W k-blocks. Bindings: C, then the windows, then bias and the dispatch's parameters.
struct Window {
  row0: u32,   // region origin in C (in C^T with flags bit 3)
  col0: u32,
  rows: u32,   // region size (<= RP)
  cols: u32,
  kc4: u32,    // KC / 4: vec4s per packed row
  ldc: u32,    // row stride of C (N)
  w: u32,      // k-blocks in this dispatch (1..WIN_MAX)
  flags: u32,  // bit 0: add the bias, bit 1: accumulate into C, bit 2: k-major blocks (_sg only),
               // bit 3: the region is one of C^T (win_store)
  alpha: f32,
}
const WIN_MAX: u32 = 2u;  // uniform windows per operand (src/kernels/matmul.ts: WIN_MAX)
const WTM: u32 = 8u;
const WTN: u32 = 8u;

@group(0) @binding(0) var<storage, read_write> win_c: array<f32>;  // (M, N)
// (with flags bit 2 the blocks are k-major, RP k x RP rows; with bit 3 A and B trade places)
@group(0) @binding(1) var<uniform> wa0: array<vec4<f32>, 4096>;   // (RP, KC) block of op(A)
@group(0) @binding(2) var<uniform> wa1: array<vec4<f32>, 4096>;
@group(0) @binding(3) var<uniform> wb0: array<vec4<f32>, 4096>;   // (RP, KC) block of op(B)^T
@group(0) @binding(4) var<uniform> wb1: array<vec4<f32>, 4096>;
@group(0) @binding(5) var<storage, read> win_bias: array<f32>;     // (N), unused unless flags bit 0
@group(0) @binding(6) var<uniform> win: Window;

// w is a constant at every call site, so the switch folds away after inlining
fn win_a(w: u32, i: u32) -> vec4<f32> {
  switch (w) {
    case 1u: { return wa1[i]; }
    default: { return wa0[i]; }
  }
}

fn win_b(w: u32, i: u32) -> vec4<f32> {
  switch (w) {
    case 1u: { return wb1[i]; }
    default: { return wb0[i]; }
  }
}

// acc[i][j] += sum over the block's k of A(r0 + i, k) * B(k, c0 + j); r0, c0 relative to the region
fn win_block(w: u32, r0: u32, c0: u32, acc: ptr<function, array<array<f32, WTN>, WTM>>) {
  let kc4 = win.kc4;
  for (var k4 = 0u; k4 < kc4; k4++) {
    var a: array<vec4<f32>, WTM>;
    var b: array<vec4<f32>, WTN>;
    for (var i = 0u; i < WTM; i++) { a[i] = win_a(w, (r0 + i) * kc4 + k4); }
    for (var j = 0u; j < WTN; j++) { b[j] = win_b(w, (c0 + j) * kc4 + k4); }
    for (var i = 0u; i < WTM; i++) {
      for (var j = 0u; j < WTN; j++) { (*acc)[i][j] += dot(a[i], b[j]); }
    }
  }
}

@compute @workgroup_size(8, 1, 1)
fn matmul_windows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r0 = gid.y * WTM;
  let c0 = gid.x * WTN;
  var acc: array<array<f32, WTN>, WTM>;
  win_block(0u, r0, c0, &acc);
  if (win.w > 1u) { win_block(1u, r0, c0, &acc); }
  for (var i = 0u; i < WTM; i++) {
    for (var j = 0u; j < WTN; j++) { win_store(r0 + i, c0 + j, acc[i][j]); }
  }
}

// C(row0 + r, col0 + c) = alpha * v [+ bias] [+ C] for (r, c) inside the region (relative to it)
// With flags bit 3 the dispatch computes C^T = op(B)^T . op(A)^T (A and B swapped, a region of
// C^T), and the element (r, c) of C^T goes to C(c, r): for products whose N fills the tiles worse
// than M does (the LM head's N = V = 99 columns leave a quarter of the 32-column tiles empty).
fn win_store(r: u32, c: u32, v: f32) {
  if (r < win.rows && c < win.cols) {
    let tr = (win.flags & 8u) != 0u;
    let row = select(win.row0 + r, win.col0 + c, tr);  // in C
    let col = select(win.col0 + c, win.row0 + r, tr);
    var x = win.alpha * v;
    if ((win.flags & 1u) != 0u) { x += win_bias[col]; }
    let idx = row * win.ldc + col;
    if ((win.flags & 2u) != 0u) { x += win_c[idx]; }
    win_c[idx] = x;
  }
}

#if ${SUBGROUPS}
enable subgroups;

// 2b. `matmul_windows_sg`: the same windows and parameters, for adapters with subgroups of at
// least 8 lanes (lavapipe: 8, one AVX2 register per value). A workgroup is one subgroup of 8 lanes
// and computes 16 rows x 32 columns of the region: lane l owns columns c0..c0+3 of all 16 rows.
// Every lane needs the same 16 rows of op(A), so each lane loads only 2 of them (rows l and 8 + l)
// and subgroupBroadcast hands them to the others, a register move instead of a load. Per 4 k:
// 2 + 4 vec4 loads per lane for 64 multiply-adds, against 16 for 64 in `matmul_windows`.
const SG_ROWS: u32 = 16u;

// acc[i] += A(r0 + i, k) . B(k, c0..c0+3) over the block's k; l is the lane (subgroup_invocation_id)
fn sg_block(w: u32, r0: u32, c0: u32, l: u32, acc: ptr<function, array<vec4<f32>, SG_ROWS>>) {
  let kc4 = win.kc4;
  for (var k4 = 0u; k4 < kc4; k4++) {
    let a0 = win_a(w, (r0 + l) * kc4 + k4);       // A(r0 + l, 4 k)
    let a1 = win_a(w, (r0 + 8u + l) * kc4 + k4);  // A(r0 + 8 + l, 4 k)
    // column j of bm: B(4 k, c0 + j), so (a row of A) * bm = its 4 outputs
    let bm = mat4x4<f32>(win_b(w, c0 * kc4 + k4), win_b(w, (c0 + 1u) * kc4 + k4),
                         win_b(w, (c0 + 2u) * kc4 + k4), win_b(w, (c0 + 3u) * kc4 + k4));
    // (the lane argument of subgroupBroadcast must be a constant, hence one line per row)
    (*acc)[0] += subgroupBroadcast(a0, 0u) * bm;
    (*acc)[1] += subgroupBroadcast(a0, 1u) * bm;
    (*acc)[2] += subgroupBroadcast(a0, 2u) * bm;
    (*acc)[3] += subgroupBroadcast(a0, 3u) * bm;
    (*acc)[4] += subgroupBroadcast(a0, 4u) * bm;
    (*acc)[5] += subgroupBroadcast(a0, 5u) * bm;
    (*acc)[6] += subgroupBroadcast(a0, 6u) * bm;
    (*acc)[7] += subgroupBroadcast(a0, 7u) * bm;
    (*acc)[8] += subgroupBroadcast(a1, 0u) * bm;
    (*acc)[9] += subgroupBroadcast(a1, 1u) * bm;
    (*acc)[10] += subgroupBroadcast(a1, 2u) * bm;
    (*acc)[11] += subgroupBroadcast(a1, 3u) * bm;
    (*acc)[12] += subgroupBroadcast(a1, 4u) * bm;
    (*acc)[13] += subgroupBroadcast(a1, 5u) * bm;
    (*acc)[14] += subgroupBroadcast(a1, 6u) * bm;
    (*acc)[15] += subgroupBroadcast(a1, 7u) * bm;
  }
}

// K-major blocks (flags bit 2, for weight gradients dW = dout^T . inp, whose operands are both
// stored (K, rows)): a block holds RP k-rows x RP rows of the operand, rows contiguous, so
// A(r, k) is component r % 4 of wa[k * RP/4 + r / 4] and B(k, c) of wb[k * RP/4 + c / 4]. An
// operand stored (K, 128) with K a multiple of 128 already has that layout and is bound where it
// is (no transposing pack); any other is packed into it by matmul_pack without a transpose.
// Per 4 k each lane loads the same 6 vec4s and broadcasts 16 as in sg_block: lane l loads rows
// r0 + 4 (l % 4) .. + 3 at k + l / 4 (a0) and at k + 2 + l / 4 (a1), and its 4 columns at k..k+3.
fn sg_block_km(w: u32, r0: u32, c0: u32, l: u32, acc: ptr<function, array<vec4<f32>, SG_ROWS>>) {
  let kc4 = win.kc4;
  let rs = RP / 4u;  // vec4s per k-row
  let ra = r0 / 4u + (l & 3u);
  let kl = l >> 2u;
  let cb = c0 / 4u;
  for (var k4 = 0u; k4 < kc4; k4++) {
    let k = 4u * k4;
    let a0 = win_a(w, (k + kl) * rs + ra);
    let a1 = win_a(w, (k + 2u + kl) * rs + ra);
    let b0 = win_b(w, k * rs + cb);
    let b1 = win_b(w, (k + 1u) * rs + cb);
    let b2 = win_b(w, (k + 2u) * rs + cb);
    let b3 = win_b(w, (k + 3u) * rs + cb);
    let bm = mat4x4<f32>(b0, b1, b2, b3);
    // rows r0 + 4m .. + 3 at k, k + 1, k + 2, k + 3: a0 of lane m, a0 of lane 4 + m, a1 of lane m,
    // a1 of lane 4 + m (constant lanes, hence one line per row group)
    km_rows(acc, 0u, subgroupBroadcast(a0, 0u), subgroupBroadcast(a0, 4u), subgroupBroadcast(a1, 0u), subgroupBroadcast(a1, 4u), bm);
    km_rows(acc, 4u, subgroupBroadcast(a0, 1u), subgroupBroadcast(a0, 5u), subgroupBroadcast(a1, 1u), subgroupBroadcast(a1, 5u), bm);
    km_rows(acc, 8u, subgroupBroadcast(a0, 2u), subgroupBroadcast(a0, 6u), subgroupBroadcast(a1, 2u), subgroupBroadcast(a1, 6u), bm);
    km_rows(acc, 12u, subgroupBroadcast(a0, 3u), subgroupBroadcast(a0, 7u), subgroupBroadcast(a1, 3u), subgroupBroadcast(a1, 7u), bm);
  }
}

// acc[i0 + e] += sum over q of x_q[e] * B(k + q, c0..c0+3) for e = 0..3, where x_q holds rows
// i0..i0+3 of A at k + q and column q of bm is B's row k + q: each accumulator is read and written
// once per 4 k (updating it once per k would spill 4x as much on lavapipe).
fn km_rows(acc: ptr<function, array<vec4<f32>, SG_ROWS>>, i0: u32, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>, bm: mat4x4<f32>) {
  (*acc)[i0] += bm * vec4<f32>(x0.x, x1.x, x2.x, x3.x);
  (*acc)[i0 + 1u] += bm * vec4<f32>(x0.y, x1.y, x2.y, x3.y);
  (*acc)[i0 + 2u] += bm * vec4<f32>(x0.z, x1.z, x2.z, x3.z);
  (*acc)[i0 + 3u] += bm * vec4<f32>(x0.w, x1.w, x2.w, x3.w);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_windows_sg(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(subgroup_invocation_id) l: u32) {
  let r0 = wid.y * SG_ROWS;  // the same for the whole subgroup (the broadcasts rely on it)
  let c0 = gid.x * 4u;
  var acc: array<vec4<f32>, SG_ROWS>;
  if ((win.flags & 4u) != 0u) {
    sg_block_km(0u, r0, c0, l, &acc);
    if (win.w > 1u) { sg_block_km(1u, r0, c0, l, &acc); }
  } else {
    sg_block(0u, r0, c0, l, &acc);
    if (win.w > 1u) { sg_block(1u, r0, c0, l, &acc); }
  }
  for (var i = 0u; i < SG_ROWS; i++) {
    for (var j = 0u; j < 4u; j++) { win_store(r0 + i, c0 + j, acc[i][j]); }
  }
}
#endif

// ------------------------------------------------------------------------------------------------
// bias backward
// dbias (COLS) += sum over ROWS of dout (ROWS, COLS), deterministic (fixed order), two ways:
//   bias_backward         (CPU adapters) one invocation per 4 columns walks the rows in order.
//   bias_backward_slices  (GPUs) a workgroup covers BB_X * 4 columns with BB_Y row slices:
//                         invocation (x, y) sums rows y, y + BB_Y, ... of its 4 columns, then the
//                         y == 0 invocations add the BB_Y slice sums in order. One invocation per 4
//                         columns left an H100 waiting on 768 dependent loads (150 us for any
//                         COLS); on lavapipe the barrier version ran 1.3-1.6x slower per call.
// Both read vec4s when COLS % 4 == 0. dout is bound where the general kernel binds A (a_in, vec4
// when A_VEC4) and dbias where it binds C (c_out).
struct BiasDims {
  rows: u32,
  cols: u32,
}
@group(0) @binding(2) var<uniform> bb: BiasDims;

// sum of rows r0, r0 + step, ... of the 4 columns from c (clamped to the last: loads stay in bounds)
fn bias_rows(c: u32, r0: u32, step: u32) -> vec4<f32> {
  let ROWS = bb.rows;
  let COLS = bb.cols;
  var s = vec4<f32>();
  if (A_VEC4) {
    for (var r = r0; r < ROWS; r += step) { s += a_vec(r * COLS + c); }
  } else {
    let last = COLS - 1u;
    for (var r = r0; r < ROWS; r += step) {
      let row = r * COLS;
      s += vec4<f32>(a_at(row + c), a_at(row + min(c + 1u, last)), a_at(row + min(c + 2u, last)), a_at(row + min(c + 3u, last)));
    }
  }
  return s;
}

// dbias[c0 .. c0 + 3] += t, the columns that exist
fn bias_store(c0: u32, t: vec4<f32>) {
  for (var q = 0u; q < 4u; q++) {
    if (c0 + q < bb.cols) { c_out[c0 + q] += t[q]; }
  }
}

@compute @workgroup_size(16)
fn bias_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x * 4u;
  if (c >= bb.cols) { return; }
  bias_store(c, bias_rows(c, 0u, 1u));
}

const BB_X: u32 = 8u;
const BB_Y: u32 = 32u;
var<workgroup> bb_part: array<vec4<f32>, 256>;  // BB_X * BB_Y

@compute @workgroup_size(8, 32)
fn bias_backward_slices(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // columns past the end are clamped and never stored; no early return: all reach the barrier
  bb_part[lid.y * BB_X + lid.x] = bias_rows(min(gid.x * 4u, bb.cols - 1u), lid.y, BB_Y);
  workgroupBarrier();
  if (lid.y != 0u) { return; }
  var t = bb_part[lid.x];
  for (var y = 1u; y < BB_Y; y++) { t += bb_part[y * BB_X + lid.x]; }
  bias_store(gid.x * 4u, t);
}
